package apiserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/proxy"
	genericrequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/transport"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	apiregistrationv1helper "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1/helper"
)

// remoteProxy is how requests for a remote APIService's group version are proxied
// (kube-aggregator's proxyHandlingInfo).
type remoteProxy struct {
	name      string
	ref       apiregistrationv1.ServiceReference
	available bool
	// spec is what the transport was built from (the APIService's spec as JSON).
	spec         string
	transport    *http.Transport // nil when transportErr says why
	transportErr error
}

// aggregatedDiscoveryTimeout bounds a proxied discovery request (/apis/GROUP/VERSION), as
// k8s.io/apiserver's proxy does: clients wait on it for every group.
const aggregatedDiscoveryTimeout = 5 * time.Second

// newRemoteProxy is the proxy of svc, reusing old's transport when the spec is unchanged.
func (a *aggregator) newRemoteProxy(svc *apiregistrationv1.APIService, old *remoteProxy) *remoteProxy {
	spec, _ := json.Marshal(svc.Spec)
	p := &remoteProxy{name: svc.Name, ref: *svc.Spec.Service, spec: string(spec),
		available: apiregistrationv1helper.IsAPIServiceConditionTrue(svc, apiregistrationv1.Available)}
	if p.ref.Port == nil {
		port := int32(443)
		p.ref.Port = &port
	}
	if old != nil && old.name == p.name && old.spec == p.spec {
		p.transport, p.transportErr = old.transport, old.transportErr
		return p
	}
	if old != nil && old.transport != nil {
		old.transport.CloseIdleConnections()
	}
	p.transport, p.transportErr = a.newTransport(svc)
	return p
}

// newTransport reaches svc's Service as kube-aggregator does: TLS with the server name
// SERVICE.NAMESPACE.svc checked against caBundle (or not at all with insecureSkipTLSVerify),
// drover's front-proxy client certificate presented.
func (a *aggregator) newTransport(svc *apiregistrationv1.APIService) (*http.Transport, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"},
		ServerName:         svc.Spec.Service.Name + "." + svc.Spec.Service.Namespace + ".svc",
		InsecureSkipVerify: svc.Spec.InsecureSkipTLSVerify, //nolint:gosec // the APIService asks for it, as in Kubernetes
	}
	if len(svc.Spec.CABundle) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(svc.Spec.CABundle) {
			return nil, fmt.Errorf("unable to load root certificates: unable to parse bytes as PEM block")
		}
		cfg.RootCAs = pool
	}
	if a.s.frontProxy != nil {
		cfg.Certificates = []tls.Certificate{a.s.frontProxy.ClientCert}
	}
	return &http.Transport{
		TLSClientConfig:       cfg,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   25,
		ResponseHeaderTimeout: 0, // watches
	}, nil
}

// remoteGroupVersion is the group version of a path /apis/GROUP/VERSION[/...].
func remoteGroupVersion(path string) (schema.GroupVersion, bool) {
	rest, ok := strings.CutPrefix(path, "/apis/")
	if !ok {
		return schema.GroupVersion{}, false
	}
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return schema.GroupVersion{}, false
	}
	return schema.GroupVersion{Group: parts[0], Version: parts[1]}, true
}

// proxyFor is the proxy of the remote APIService serving path's group version, if any.
func (a *aggregator) proxyFor(path string) *remoteProxy {
	if a == nil {
		return nil
	}
	gv, ok := remoteGroupVersion(path)
	if !ok {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.local[gv] {
		return nil // drover's own: an APIService does not take it over
	}
	return a.proxies[gv]
}

// serve proxies r to the extension API server of its group version and reports true, or
// reports false when no remote APIService serves it. r has passed authentication,
// impersonation and authorization: its user is the one the extension server is told of.
func (a *aggregator) serve(w http.ResponseWriter, r *http.Request) bool {
	p := a.proxyFor(r.URL.Path)
	if p == nil {
		return false
	}
	// kube-aggregator's proxyHandler, its answers (plain text) included.
	if !p.available {
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		return true
	}
	if p.transportErr != nil {
		http.Error(w, p.transportErr.Error(), http.StatusInternalServerError)
		return true
	}
	u, ok := genericrequest.UserFrom(r.Context())
	if !ok {
		http.Error(w, "missing user", http.StatusInternalServerError)
		return true
	}
	ep, err := a.resolve(r.Context(), p.ref)
	if err != nil {
		a.s.log.Debug("resolving an APIService's service", "apiservice", p.name, "err", err)
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		return true
	}
	loc := &url.URL{Scheme: "https", Host: ep.Host, Path: r.URL.Path, RawQuery: r.URL.Query().Encode()}
	ctx := r.Context()
	if strings.Count(strings.Trim(r.URL.Path, "/"), "/") == 2 { // /apis/GROUP/VERSION: discovery
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, aggregatedDiscoveryTimeout)
		defer cancel()
	}
	out := r.WithContext(ctx)
	out.Header = r.Header.Clone()
	out.URL, out.Host = loc, loc.Host
	// drover's credentials and the caller's impersonation stay here: the extension server
	// learns the user from the headers below, on a connection with the front-proxy certificate.
	out.Header.Del("Authorization")
	for k := range out.Header {
		if strings.HasPrefix(http.CanonicalHeaderKey(k), "Impersonate-") {
			out.Header.Del(k)
		}
	}
	upgrade := httpstream.IsUpgradeRequest(r)
	rt := transport.NewAuthProxyRoundTripper(u.GetName(), "", u.GetGroups(), u.GetExtra(), p.transport)
	if upgrade {
		// The upgrade dials with the transport's TLS configuration and sends this request
		// itself: the headers go on it now.
		transport.SetAuthProxyHeaders(out, u.GetName(), "", u.GetGroups(), u.GetExtra())
	}
	h := proxy.NewUpgradeAwareHandler(loc, rt, true, upgrade, aggregatorResponder{})
	h.ServeHTTP(w, out)
	return true
}

// aggregatorResponder answers a failed proxying as kube-aggregator's: 503 with the error.
type aggregatorResponder struct{}

func (aggregatorResponder) Error(w http.ResponseWriter, _ *http.Request, err error) {
	http.Error(w, err.Error(), http.StatusServiceUnavailable)
}

// resolve is a ready endpoint of the Service ref names at its port (kube-apiserver with
// --enable-aggregator-routing: the API server may run where no service proxy does).
func (a *aggregator) resolve(ctx context.Context, ref apiregistrationv1.ServiceReference) (*url.URL, error) {
	port := int32(443)
	if ref.Port != nil {
		port = *ref.Port
	}
	obj, _, err := a.s.getObject(ctx, a.s.servicesRes(), ref.Namespace, ref.Name)
	if err != nil {
		return nil, err
	}
	svc := obj.(*corev1.Service)
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return &url.URL{Scheme: "https", Host: net.JoinHostPort(svc.Spec.ExternalName, strconv.Itoa(int(port)))}, nil
	}
	return a.s.serviceEndpoint(ctx, svc, strconv.Itoa(int(port)), "https", ref.Name)
}

func svcGroupVersion(svc *apiregistrationv1.APIService) schema.GroupVersion {
	return schema.GroupVersion{Group: svc.Spec.Group, Version: svc.Spec.Version}
}
