package apiserver

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/endpoints"
	"k8s.io/client-go/transport"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	apiregistrationv1helper "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1/helper"

	"github.com/drover-ci/drover/cluster/apiserver/discovery"
	"github.com/drover-ci/drover/cluster/registry"
	"github.com/drover-ci/drover/cluster/store"
)

// How often a remote APIService is checked: kube-aggregator's availability controller
// resyncs every 30 s and reacts to Service and Endpoints events at once, which drover, without
// those informers here, makes up for by checking an unavailable APIService every second.
const (
	remoteCheckAvailable   = 10 * time.Second
	remoteCheckUnavailable = time.Second
)

// aggregatorUser is who the aggregation layer's own requests to extension servers come from.
const aggregatorUser = "system:kube-aggregator"

// followBackends makes the remote APIServices whose Service or Endpoints change due for a
// check at once, as kube-aggregator's availability controller reacts to their events.
func (a *aggregator) followBackends(ctx context.Context) {
	for _, res := range []*registry.Resource{a.s.servicesRes(), a.s.endpointsRes()} {
		if res == nil {
			continue
		}
		prefix := listPrefix(res, "")
		load := func(ctx context.Context) (int64, error) { return a.s.store.Revision(ctx) }
		rev, err := load(ctx)
		if err != nil {
			a.s.log.Warn("APIService backends", "err", err)
		}
		go a.s.followPrefix(ctx, "APIService backends", prefix, rev, load, func(ev store.Event) {
			ns, name, ok := strings.Cut(strings.TrimPrefix(ev.Key, prefix), "/")
			if !ok {
				return
			}
			a.mu.Lock()
			due := false
			for n, svc := range a.services {
				if ref := svc.Spec.Service; ref != nil && ref.Namespace == ns && ref.Name == name {
					if st := a.checks[n]; st != nil {
						st.at = time.Time{}
					}
					due = true
				}
			}
			a.mu.Unlock()
			if due {
				a.poke()
			}
		})
	}
}

// checkRemotes starts the availability check of every remote APIService that is due: its
// spec changed, or its interval passed. A check runs at most once at a time per APIService.
func (a *aggregator) checkRemotes(ctx context.Context) {
	now := time.Now()
	a.mu.Lock()
	var due []*apiregistrationv1.APIService
	for name, svc := range a.services {
		if svc.Spec.Service == nil {
			delete(a.checks, name)
			continue
		}
		st := a.checks[name]
		if st == nil {
			st = &checkState{}
			a.checks[name] = st
		}
		spec, _ := json.Marshal(svc.Spec)
		every := remoteCheckUnavailable
		if apiregistrationv1helper.IsAPIServiceConditionTrue(svc, apiregistrationv1.Available) {
			every = remoteCheckAvailable
		}
		if st.running || (st.spec == string(spec) && now.Sub(st.at) < every) {
			continue
		}
		st.running, st.at, st.spec = true, now, string(spec)
		due = append(due, svc.DeepCopy())
	}
	for name := range a.checks {
		if _, ok := a.services[name]; !ok {
			delete(a.checks, name)
		}
	}
	a.mu.Unlock()
	for _, svc := range due {
		go func() {
			a.check(ctx, svc)
			a.mu.Lock()
			if st := a.checks[svc.Name]; st != nil {
				st.running = false
			}
			a.mu.Unlock()
		}()
	}
}

// check decides svc's Available condition as kube-aggregator's remote availability controller
// does, writes it, and on success reads the server's discovery.
func (a *aggregator) check(ctx context.Context, svc *apiregistrationv1.APIService) {
	cond := a.availability(ctx, svc)
	cond.LastTransitionTime = metav1.NewTime(a.s.now())
	if err := a.setCondition(ctx, svc.Name, string(svc.UID), cond); err != nil && ctx.Err() == nil {
		a.s.log.Debug("APIService status", "name", svc.Name, "err", err)
	}
	if cond.Status != apiregistrationv1.ConditionTrue {
		return
	}
	r, err := a.fetchDiscovery(ctx, svc)
	a.mu.Lock()
	if err != nil {
		// As kube-aggregator's discovery manager: listed without resources, Stale.
		a.s.log.Debug("APIService discovery", "name", svc.Name, "err", err)
		r = discovery.Remote{}
	}
	if cur := a.services[svc.Name]; cur != nil && cur.UID == svc.UID {
		a.remote[svc.Name] = r
	}
	a.mu.Unlock()
	a.s.rebuildDiscovery()
}

// availability is the Available condition of a remote APIService (status, reason, message).
func (a *aggregator) availability(ctx context.Context, svc *apiregistrationv1.APIService) apiregistrationv1.APIServiceCondition {
	ref := svc.Spec.Service
	port := int32(443)
	if ref.Port != nil {
		port = *ref.Port
	}
	cond := func(status apiregistrationv1.ConditionStatus, reason, format string, args ...interface{}) apiregistrationv1.APIServiceCondition {
		return apiregistrationv1.APIServiceCondition{Type: apiregistrationv1.Available, Status: status, Reason: reason, Message: fmt.Sprintf(format, args...)}
	}
	obj, _, err := a.s.getObject(ctx, a.s.servicesRes(), ref.Namespace, ref.Name)
	if apierrors.IsNotFound(err) {
		return cond(apiregistrationv1.ConditionFalse, "ServiceNotFound", "service/%s in %q is not present", ref.Name, ref.Namespace)
	} else if err != nil {
		return cond(apiregistrationv1.ConditionUnknown, "ServiceAccessError", "service/%s in %q cannot be checked due to: %v", ref.Name, ref.Namespace, err)
	}
	service := obj.(*corev1.Service)
	if service.Spec.Type == corev1.ServiceTypeClusterIP || service.Spec.Type == "" {
		portName, found := "", false
		for _, p := range service.Spec.Ports {
			if p.Port == port {
				portName, found = p.Name, true
				break
			}
		}
		if !found {
			return cond(apiregistrationv1.ConditionFalse, "ServicePortError", "service/%s in %q is not listening on port %d", ref.Name, ref.Namespace, port)
		}
		eobj, _, err := a.s.getObject(ctx, a.s.endpointsRes(), ref.Namespace, ref.Name)
		if apierrors.IsNotFound(err) {
			return cond(apiregistrationv1.ConditionFalse, "EndpointsNotFound", "cannot find endpoints for service/%s in %q", ref.Name, ref.Namespace)
		} else if err != nil {
			return cond(apiregistrationv1.ConditionUnknown, "EndpointsAccessError", "service/%s in %q cannot be checked due to: %v", ref.Name, ref.Namespace, err)
		}
		ready := false
	subsets:
		for _, ss := range eobj.(*corev1.Endpoints).Subsets {
			if len(ss.Addresses) == 0 {
				continue
			}
			for _, p := range ss.Ports {
				if p.Name == portName {
					ready = true
					break subsets
				}
			}
		}
		if !ready {
			return cond(apiregistrationv1.ConditionFalse, "MissingEndpoints", "endpoints for service/%s in %q have no addresses with port name %q", ref.Name, ref.Namespace, portName)
		}
	}
	if err := a.discoveryCheck(ctx, svc); err != nil {
		return cond(apiregistrationv1.ConditionFalse, "FailedDiscoveryCheck", "%s", err.Error())
	}
	return cond(apiregistrationv1.ConditionTrue, "Passed", "all checks passed")
}

// discoveryCheck GETs /apis/GROUP/VERSION from an endpoint of svc's Service as
// system:kube-aggregator in system:masters: five tries at once, any 2xx passes (kube-aggregator
// does not check the server's certificate here, only presents its own).
func (a *aggregator) discoveryCheck(ctx context.Context, svc *apiregistrationv1.APIService) error {
	cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // as kube-aggregator: a best-effort reachability check
	if a.s.frontProxy != nil {
		cfg.Certificates = []tls.Certificate{a.s.frontProxy.ClientCert}
	}
	tr := &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	const attempts = 5
	results := make(chan error, attempts)
	for i := 0; i < attempts; i++ {
		go func() {
			u, err := a.resolve(ctx, *svc.Spec.Service)
			if err != nil {
				results <- err
				return
			}
			u.Path = "/apis/" + svc.Spec.Group + "/" + svc.Spec.Version
			if svc.Name == "v1." {
				u.Path = "/api/" + svc.Spec.Version
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
			if err != nil {
				results <- err
				return
			}
			transport.SetAuthProxyHeaders(req, aggregatorUser, "", []string{"system:masters"}, nil)
			resp, err := client.Do(req)
			if err != nil {
				results <- fmt.Errorf("failing or missing response from %v: %w", u, err)
				return
			}
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if resp.StatusCode < http.StatusOK || resp.StatusCode >= http.StatusMultipleChoices {
				results <- fmt.Errorf("failing or missing response from %v: bad status from %v: %d", u, u, resp.StatusCode)
				return
			}
			results <- nil
		}()
	}
	var last error
	for i := 0; i < attempts; i++ {
		if last = <-results; last == nil {
			return nil
		}
	}
	return last
}

// The aggregated discovery types an extension server may answer /apis with.
const acceptAggregated = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"

// fetchDiscovery reads what svc's server serves of its group version, as kube-aggregator's
// discovery manager does, through the proxy (the APIService's TLS settings, the front-proxy
// certificate, system:kube-aggregator in system:masters): its aggregated /apis when it answers
// with apidiscovery.k8s.io v2 (or v2beta1), else its legacy /apis/GROUP/VERSION converted.
func (a *aggregator) fetchDiscovery(ctx context.Context, svc *apiregistrationv1.APIService) (discovery.Remote, error) {
	r := discovery.Remote{Group: svc.Spec.Group, Version: svc.Spec.Version, Fresh: true}
	body, ctype, code, err := a.proxyGet(ctx, svc, "/apis", acceptAggregated, []string{"system:masters"})
	if err != nil {
		return r, err
	}
	if code == http.StatusOK && isAggregatedType(ctype) {
		var list apidiscoveryv2.APIGroupDiscoveryList
		if err := json.Unmarshal(body, &list); err != nil {
			return r, fmt.Errorf("decoding the aggregated discovery of %s: %w", svc.Name, err)
		}
		for _, g := range list.Items {
			if g.Name != svc.Spec.Group {
				continue
			}
			for _, v := range g.Versions {
				if v.Version == svc.Spec.Version {
					r.Resources = fillResponseKinds(v.Resources)
				}
			}
		}
		return r, nil
	}
	if code == http.StatusServiceUnavailable {
		return r, fmt.Errorf("service %s/%s returned non-success response code: %v", svc.Spec.Service.Namespace, svc.Spec.Service.Name, code)
	}
	path := "/apis/" + svc.Spec.Group + "/" + svc.Spec.Version
	body, _, code, err = a.proxyGet(ctx, svc, path, "application/json", nil)
	if err != nil {
		return r, err
	}
	if code != http.StatusOK {
		return r, fmt.Errorf("failed to download legacy discovery for %s: %d %s", path, code, body)
	}
	var list metav1.APIResourceList
	if err := json.Unmarshal(body, &list); err != nil {
		return r, err
	}
	r.Resources, err = endpoints.ConvertGroupVersionIntoToDiscovery(list.APIResources)
	return r, err
}

// fillResponseKinds gives every resource and subresource a responseKind, as kube-aggregator
// does for the sake of client-go 0.26.0–0.26.3.
func fillResponseKinds(rs []apidiscoveryv2.APIResourceDiscovery) []apidiscoveryv2.APIResourceDiscovery {
	for i := range rs {
		if rs[i].ResponseKind == nil {
			rs[i].ResponseKind = &metav1.GroupVersionKind{}
		}
		for j := range rs[i].Subresources {
			if rs[i].Subresources[j].ResponseKind == nil {
				rs[i].Subresources[j].ResponseKind = &metav1.GroupVersionKind{}
			}
		}
	}
	return rs
}

func isAggregatedType(ct string) bool {
	base, params, err := mime.ParseMediaType(ct)
	return err == nil && base == "application/json" && params["g"] == "apidiscovery.k8s.io" &&
		(params["v"] == "v2" || params["v"] == "v2beta1") && params["as"] == "APIGroupDiscoveryList"
}

// proxyGet GETs path from svc's server the way the proxy sends requests, as
// system:kube-aggregator in groups. It returns the body, Content-Type and status.
func (a *aggregator) proxyGet(ctx context.Context, svc *apiregistrationv1.APIService, path, accept string, groups []string) ([]byte, string, int, error) {
	a.mu.Lock()
	p := a.proxies[svcGroupVersion(svc)]
	a.mu.Unlock()
	if p == nil || p.name != svc.Name {
		return nil, "", 0, fmt.Errorf("APIService %s is not proxied", svc.Name)
	}
	if p.transportErr != nil {
		return nil, "", 0, p.transportErr
	}
	ep, err := a.resolve(ctx, p.ref)
	if err != nil {
		return nil, "", 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+ep.Host+path, nil)
	if err != nil {
		return nil, "", 0, err
	}
	req.Header.Set("Accept", accept)
	transport.SetAuthProxyHeaders(req, aggregatorUser, "", groups, nil)
	resp, err := p.transport.RoundTrip(req)
	if err != nil {
		return nil, "", 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return body, resp.Header.Get("Content-Type"), resp.StatusCode, err
}
