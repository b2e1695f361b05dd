package apiserver

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/proxy"
)

var endpointsGVR = schema.GroupVersionResource{Version: "v1", Resource: "endpoints"}

// newProxyTransport dials pods for services/proxy and pods/proxy (pod IPs are reachable from
// the API server's host: drover up's bridge, or the host routes of --host-gw). Like
// kube-apiserver's CreateProxyTransport it does not verify a backend's certificate for
// https: targets: the backend is addressed by IP, and no name in its certificate could match.
func newProxyTransport() *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // as kube-apiserver: pod and service proxy to an IP
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		IdleConnTimeout:       90 * time.Second,
	}
}

// serveProxy answers services/[SCHEME:]NAME[:PORT]/proxy/PATH and
// pods/[SCHEME:]NAME[:PORT]/proxy/PATH as kube-apiserver does: HTTP and WebSocket upgrades
// are proxied to a pod (a ready endpoint of the service), over TLS for the https scheme, with
// links in HTML answers rewritten to stay under the proxy path.
func (s *Server) serveProxy(w http.ResponseWriter, r *http.Request, req *request) {
	var loc *url.URL
	var err error
	switch req.res.Resource {
	case "pods":
		loc, err = s.podProxyLocation(r, req)
	case "services":
		loc, err = s.serviceProxyLocation(r, req)
	default:
		err = apierrors.NewMethodNotSupported(req.gr(), r.Method)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	if loc.Scheme == "" {
		loc.Scheme = "http"
	}
	// An empty path stays empty: the handler redirects GET and HEAD of .../proxy to .../proxy/
	// (301, as kube-apiserver), and sends other methods to the backend's root.
	loc.Path, loc.RawQuery = req.rest, r.URL.RawQuery
	h := proxy.NewUpgradeAwareHandler(loc, s.proxyTransport, true, false, responder{})
	r2 := r.Clone(r.Context())
	r2.Header.Del("Authorization") // the caller's credential is the API's, not the pod's
	h.ServeHTTP(w, r2)
}

// splitSchemeNamePort reads [SCHEME:]NAME[:PORT] as Kubernetes' SplitSchemeNamePort: the
// scheme is "", http or https, and the name is not empty.
func splitSchemeNamePort(id string) (scheme, name, port string, valid bool) {
	parts := strings.Split(id, ":")
	switch len(parts) {
	case 1:
		name = parts[0]
	case 2:
		name, port = parts[0], parts[1]
	case 3:
		scheme, name, port = parts[0], parts[1], parts[2]
	default:
		return "", "", "", false
	}
	if name == "" || (scheme != "" && scheme != "http" && scheme != "https") {
		return "", "", "", false
	}
	return scheme, name, port, true
}

// podProxyLocation is the pod's IP and port as Kubernetes' pod ResourceLocation finds them:
// the port named in the request (a number, or, beyond Kubernetes, a container port's name),
// else the first port a container declares, else none (the scheme's default).
func (s *Server) podProxyLocation(r *http.Request, req *request) (*url.URL, error) {
	scheme, name, port, ok := splitSchemeNamePort(req.name)
	if !ok {
		return nil, badRequest("invalid pod request %q", req.name)
	}
	obj, _, err := s.getObject(r.Context(), req.res, req.namespace, name)
	if err != nil {
		return nil, err
	}
	pod := obj.(*corev1.Pod)
	if pod.Status.PodIP == "" {
		return nil, statusError(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable, fmt.Sprintf("pod %s has no IP address yet", pod.Name))
	}
	if port == "" {
		for _, c := range pod.Spec.Containers {
			if len(c.Ports) > 0 {
				port = strconv.Itoa(int(c.Ports[0].ContainerPort))
				break
			}
		}
	}
	if _, err := strconv.Atoi(port); err != nil && port != "" {
		found := ""
		for _, c := range pod.Spec.Containers {
			for _, p := range c.Ports {
				if p.Name == port {
					found = strconv.Itoa(int(p.ContainerPort))
				}
			}
		}
		if found == "" {
			return nil, badRequest("no container port named %q in pod %s", port, pod.Name)
		}
		port = found
	}
	loc := &url.URL{Scheme: scheme, Host: net.JoinHostPort(pod.Status.PodIP, port)}
	if port == "" {
		loc.Host = pod.Status.PodIP
		if strings.Contains(loc.Host, ":") {
			loc.Host = "[" + loc.Host + "]"
		}
	}
	return loc, nil
}

// serviceProxyLocation is a ready endpoint's IP and port for the service port the request
// names, as Kubernetes' service ResourceLocation finds it: a port number is the service port's
// name, a name is the Endpoints port's; beyond Kubernetes, no port at all is the service's
// only port.
func (s *Server) serviceProxyLocation(r *http.Request, req *request) (*url.URL, error) {
	scheme, name, port, ok := splitSchemeNamePort(req.name)
	if !ok {
		return nil, badRequest("invalid service request %q", req.name)
	}
	obj, _, err := s.getObject(r.Context(), req.res, req.namespace, name)
	if err != nil {
		return nil, err
	}
	return s.serviceEndpoint(r.Context(), obj.(*corev1.Service), port, scheme, req.name)
}

// serviceEndpoint is a ready endpoint of svc's port as a URL of scheme: port is a number (the
// service port of that number, by its name), a name (the Endpoints port's), or "" for a
// service's only port. id names the service in errors (kube-apiserver's ResourceLocation
// quotes the whole proxied id).
func (s *Server) serviceEndpoint(ctx context.Context, svc *corev1.Service, port, scheme, id string) (*url.URL, error) {
	if n, err := strconv.ParseInt(port, 10, 64); err == nil {
		found := false
		for _, p := range svc.Spec.Ports {
			if int64(p.Port) == n {
				port, found = p.Name, true
				break
			}
		}
		if !found {
			return nil, statusError(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable, fmt.Sprintf("no service port %d found for service %q", n, svc.Name))
		}
	} else if port == "" && len(svc.Spec.Ports) == 1 {
		port = svc.Spec.Ports[0].Name
	}
	res, ok := s.resources.Lookup(endpointsGVR)
	if !ok {
		return nil, apierrors.NewNotFound(endpointsGVR.GroupResource(), svc.Name)
	}
	unavailable := statusError(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable, fmt.Sprintf("no endpoints available for service %q", id))
	eobj, _, err := s.getObject(ctx, res, svc.Namespace, svc.Name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, unavailable
		}
		return nil, err
	}
	for _, ss := range eobj.(*corev1.Endpoints).Subsets {
		for _, p := range ss.Ports {
			if p.Name != port || len(ss.Addresses) == 0 {
				continue
			}
			a := ss.Addresses[rand.IntN(len(ss.Addresses))]
			return &url.URL{Scheme: scheme, Host: net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port)))}, nil
		}
	}
	return nil, unavailable
}
