package apiserver

import (
	"fmt"
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

// proxyTransport dials pods for services/proxy and pods/proxy (pod IPs are reachable from the
// API server's host: drover up's bridge, or the host routes of --host-gw).
var proxyTransport = &http.Transport{
	DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
	ResponseHeaderTimeout: 60 * time.Second,
	IdleConnTimeout:       90 * time.Second,
}

// serveProxy answers services/[SCHEME:]NAME[:PORT]/proxy/PATH and
// pods/[SCHEME:]NAME[:PORT]/proxy/PATH as kube-apiserver does: HTTP and WebSocket upgrades
// are proxied to a pod (a ready endpoint of the service), with links in HTML answers rewritten
// to stay under the proxy path.
func (s *Server) serveProxy(w http.ResponseWriter, r *http.Request, req *request) {
	scheme, name, port, err := splitProxyName(req.name)
	if err != nil {
		writeError(w, err)
		return
	}
	var host string
	switch req.res.Resource {
	case "pods":
		host, err = s.podProxyHost(r, req, name, port)
	case "services":
		host, err = s.serviceProxyHost(r, req, name, port)
	default:
		err = apierrors.NewMethodNotSupported(req.gr(), r.Method)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	loc := &url.URL{Scheme: scheme, Host: host, Path: req.rest, RawQuery: r.URL.RawQuery}
	if loc.Path == "" {
		loc.Path = "/"
	}
	h := proxy.NewUpgradeAwareHandler(loc, proxyTransport, true, false, responder{})
	r2 := r.Clone(r.Context())
	r2.Header.Del("Authorization") // the caller's credential is the API's, not the pod's
	h.ServeHTTP(w, r2)
}

// splitProxyName reads [SCHEME:]NAME[:PORT] (scheme http or https).
func splitProxyName(id string) (scheme, name, port string, err error) {
	parts := strings.Split(id, ":")
	switch len(parts) {
	case 1:
		return "http", parts[0], "", nil
	case 2:
		return "http", parts[0], parts[1], nil
	case 3:
		if parts[0] != "http" && parts[0] != "https" {
			return "", "", "", badRequest("invalid scheme %q in %q", parts[0], id)
		}
		return parts[0], parts[1], parts[2], nil
	}
	return "", "", "", badRequest("invalid request %q", id)
}

// podProxyHost is POD-IP:PORT of a running pod (port: a number or a container port's name;
// empty: 80).
func (s *Server) podProxyHost(r *http.Request, req *request, name, port string) (string, error) {
	obj, _, err := s.getObject(r.Context(), req.res, req.namespace, name)
	if err != nil {
		return "", err
	}
	pod := obj.(*corev1.Pod)
	if pod.Status.PodIP == "" {
		return "", statusError(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable, fmt.Sprintf("pod %s has no IP address yet", pod.Name))
	}
	if port == "" {
		port = "80"
	}
	if _, err := strconv.Atoi(port); err != nil {
		found := ""
		for _, c := range pod.Spec.Containers {
			for _, p := range c.Ports {
				if p.Name == port {
					found = strconv.Itoa(int(p.ContainerPort))
				}
			}
		}
		if found == "" {
			return "", badRequest("no container port named %q in pod %s", port, pod.Name)
		}
		port = found
	}
	return net.JoinHostPort(pod.Status.PodIP, port), nil
}

// serviceProxyHost is a ready endpoint IP:PORT of the service's port named (by name or
// number; empty: the only port).
func (s *Server) serviceProxyHost(r *http.Request, req *request, name, port string) (string, error) {
	obj, _, err := s.getObject(r.Context(), req.res, req.namespace, name)
	if err != nil {
		return "", err
	}
	svc := obj.(*corev1.Service)
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if port == "" && len(svc.Spec.Ports) == 1 || p.Name == port || strconv.Itoa(int(p.Port)) == port {
			sp = p
			break
		}
	}
	if sp == nil {
		return "", statusError(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable, fmt.Sprintf("no service port %q found for service %q", port, svc.Name))
	}
	res, ok := s.resources.Lookup(endpointsGVR)
	if !ok {
		return "", apierrors.NewNotFound(endpointsGVR.GroupResource(), name)
	}
	eobj, _, err := s.getObject(r.Context(), res, req.namespace, name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return "", statusError(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable, fmt.Sprintf("no endpoints available for service %q", svc.Name))
		}
		return "", err
	}
	for _, ss := range eobj.(*corev1.Endpoints).Subsets {
		for _, p := range ss.Ports {
			if p.Name != sp.Name || len(ss.Addresses) == 0 {
				continue
			}
			a := ss.Addresses[int(time.Now().UnixNano()%int64(len(ss.Addresses)))]
			return net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))), nil
		}
	}
	return "", statusError(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable, fmt.Sprintf("no endpoints available for service %q", svc.Name))
}
