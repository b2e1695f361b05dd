package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	apiregistrationv1helper "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1/helper"

	"github.com/drover-ci/drover/cluster/apiserver/discovery"
	"github.com/drover-ci/drover/cluster/registry"
	"github.com/drover-ci/drover/cluster/store"
)

// The aggregation layer (kube-aggregator inside kube-apiserver): apiregistration.k8s.io/v1
// APIServices say who serves each group version. drover registers one "local" APIService
// (spec.service null) for every group version it serves itself, as kube-apiserver's
// autoregistration and crdregistration controllers do, and keeps them Available (reason
// Local). An APIService with a Service is served by an extension API server: requests under
// /apis/GROUP/VERSION are authenticated and authorized here, then proxied to a ready endpoint
// of that Service with the user in X-Remote-* headers and drover's front-proxy client
// certificate (aggregator_proxy.go); the availability controller checks the Service, its
// endpoints and the server's discovery (aggregator_status.go), and the server's discovery is
// merged into drover's /apis and aggregated discovery. Every API server of a cluster runs this;
// their writes are ordinary updates, as the CRD controller's.

// The autoregistration label and its values (kube-aggregator's autoregister controller):
// "onstart" APIServices are drover's built-in group versions, "true" ones a CRD's.
const (
	automanagedLabel   = "kube-aggregator.kubernetes.io/automanaged"
	manageOnStart      = "onstart"
	manageContinuously = "true"
)

var apiServiceGVR = apiregistrationv1.SchemeGroupVersion.WithResource("apiservices")

// aggregator follows the APIServices and does the aggregation layer's work.
type aggregator struct {
	s   *Server
	res *registry.Resource // apiservices (nil: not served, nothing to do)

	mu       sync.Mutex
	services map[string]*apiregistrationv1.APIService // by name, as stored
	proxies  map[schema.GroupVersion]*remoteProxy     // the remote APIServices by group version
	// remote is what each remote APIService's server said in its discovery, by name.
	remote map[string]discovery.Remote
	// local are the group versions drover serves itself: never proxied.
	local map[schema.GroupVersion]bool
	// checks: the availability check of each remote APIService, by name.
	checks map[string]*checkState
	kick   chan struct{}

	discMu sync.Mutex // one discovery rebuild at a time
}

// checkState is when an APIService was last checked, for which spec, and whether a check is
// running.
type checkState struct {
	running bool
	at      time.Time
	spec    string
}

func newAggregator(s *Server) *aggregator {
	res, _ := s.resources.Lookup(apiServiceGVR)
	return &aggregator{s: s, res: res, services: map[string]*apiregistrationv1.APIService{},
		proxies: map[schema.GroupVersion]*remoteProxy{}, remote: map[string]discovery.Remote{},
		checks: map[string]*checkState{}, kick: make(chan struct{}, 1)}
}

func (a *aggregator) poke() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// load lists the APIServices; it returns the store revision of the list.
func (a *aggregator) load(ctx context.Context) (int64, error) {
	if a.res == nil {
		return 0, nil
	}
	kvs, rev, err := a.s.store.List(ctx, listPrefix(a.res, ""))
	if err != nil {
		return 0, fmt.Errorf("list APIServices: %w", err)
	}
	services := map[string]*apiregistrationv1.APIService{}
	for _, kv := range kvs {
		svc, err := a.decode(kv.Value, kv.Revision)
		if err != nil {
			a.s.log.Warn("skipping an APIService that does not decode", "key", kv.Key, "err", err)
			continue
		}
		services[svc.Name] = svc
	}
	a.mu.Lock()
	a.services = services
	a.mu.Unlock()
	a.apply()
	return rev, nil
}

func (a *aggregator) decode(value []byte, rev int64) (*apiregistrationv1.APIService, error) {
	obj, err := decodeObject(a.res, value, rev)
	if err != nil {
		return nil, err
	}
	svc, ok := obj.(*apiregistrationv1.APIService)
	if !ok {
		return nil, fmt.Errorf("stored APIService decodes to %T", obj)
	}
	return svc, nil
}

// run follows the APIServices from rev until ctx ends, and runs the controllers.
func (a *aggregator) run(ctx context.Context, rev int64) {
	if a.res == nil {
		return
	}
	go a.work(ctx)
	a.followBackends(ctx)
	load := func(ctx context.Context) (int64, error) {
		rev, err := a.load(ctx)
		a.poke()
		return rev, err
	}
	a.s.followPrefix(ctx, "APIService", listPrefix(a.res, ""), rev, load, func(ev store.Event) {
		switch ev.Type {
		case store.Put:
			svc, err := a.decode(ev.Value, ev.Revision)
			if err != nil {
				a.s.log.Warn("skipping an APIService that does not decode", "key", ev.Key, "err", err)
				return
			}
			a.mu.Lock()
			a.services[svc.Name] = svc
			a.mu.Unlock()
		case store.Delete:
			name := ev.Key[strings.LastIndex(ev.Key, "/")+1:]
			a.mu.Lock()
			delete(a.services, name)
			delete(a.remote, name)
			a.mu.Unlock()
		}
		a.apply()
		a.poke()
	})
}

// apply brings the proxies in line with the APIServices and rebuilds discovery.
func (a *aggregator) apply() {
	a.mu.Lock()
	proxies := map[schema.GroupVersion]*remoteProxy{}
	for _, svc := range a.services {
		if svc.Spec.Service == nil {
			continue
		}
		gv := schema.GroupVersion{Group: svc.Spec.Group, Version: svc.Spec.Version}
		old := a.proxies[gv]
		proxies[gv] = a.newRemoteProxy(svc, old)
	}
	a.proxies = proxies
	for name := range a.remote {
		if svc := a.services[name]; svc == nil || svc.Spec.Service == nil {
			delete(a.remote, name)
		}
	}
	a.mu.Unlock()
	a.s.rebuildDiscovery()
}

// discoveryRemote is what discovery lists of the remote APIServices: every one of them (as
// kube-aggregator), with the resources its server gave at the last check, or none and Stale
// when it did not answer or is not available.
func (a *aggregator) discoveryRemote() []discovery.Remote {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []discovery.Remote
	for name, svc := range a.services {
		if svc.Spec.Service == nil {
			continue
		}
		r, ok := a.remote[name]
		if !ok || !apiregistrationv1helper.IsAPIServiceConditionTrue(svc, apiregistrationv1.Available) {
			r = discovery.Remote{} // its discovery through the proxy would be a 503: no resources, Stale
		}
		r.Group, r.Version = svc.Spec.Group, svc.Spec.Version
		r.Priority = registry.APIServicePriority{Group: svc.Spec.GroupPriorityMinimum, Version: svc.Spec.VersionPriority}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group+"/"+out[i].Version < out[j].Group+"/"+out[j].Version })
	return out
}

// rebuildDiscovery builds the discovery documents from the served resources and the remote
// APIServices, keeping the current ones when nothing they are built from changed.
func (s *Server) rebuildDiscovery() {
	var remote []discovery.Remote
	if s.agg != nil {
		s.agg.discMu.Lock()
		defer s.agg.discMu.Unlock()
		remote = s.agg.discoveryRemote()
	}
	resources := s.resources.All()
	if s.agg != nil {
		local := map[schema.GroupVersion]bool{}
		for _, r := range resources {
			local[r.GroupVersion()] = true
		}
		s.agg.mu.Lock()
		s.agg.local = local
		s.agg.mu.Unlock()
	}
	fp, _ := json.Marshal(remote)
	key := fmt.Sprintf("%d/%d/%s", s.resources.Generation(), len(resources), fp)
	if cur := s.discoveryKey.Load(); cur != nil && *cur == key {
		return
	}
	s.discovery.Store(discovery.NewAggregated(resources, VersionInfo(), remote))
	s.discoveryKey.Store(&key)
}

// work runs the autoregistration and availability controllers: at every change of the
// APIServices or the served resources, and each second for the remote checks that are due.
func (a *aggregator) work(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	register := true
	for {
		if register {
			if err := a.autoregister(ctx); err != nil && ctx.Err() == nil {
				a.s.log.Debug("APIService autoregistration", "err", err)
			}
		}
		a.localStatus(ctx)
		a.checkRemotes(ctx)
		select {
		case <-ctx.Done():
			return
		case <-a.kick:
			register = true // (the APIServices or served resources changed; also a backend)
		case <-tick.C:
			register = false
		}
	}
}

// wantLocal are the local APIServices drover's served group versions call for, by name,
// with their autoregistration label.
func (a *aggregator) wantLocal() map[string]*apiregistrationv1.APIService {
	want := map[string]*apiregistrationv1.APIService{}
	for _, r := range a.s.resources.All() {
		if r.Group == registry.APIRegistrationGroup {
			continue // kube-aggregator's own group has no APIService
		}
		name := r.Version + "." + r.Group
		if _, ok := want[name]; ok {
			continue
		}
		p := registry.LocalPriority(r)
		managed := manageOnStart
		if r.Custom {
			managed = manageContinuously
		}
		want[name] = &apiregistrationv1.APIService{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{automanagedLabel: managed}},
			Spec: apiregistrationv1.APIServiceSpec{Group: r.Group, Version: r.Version,
				GroupPriorityMinimum: p.Group, VersionPriority: p.Version},
		}
	}
	return want
}

// autoregister creates, updates and deletes the automanaged APIServices as kube-aggregator's
// autoregister controller does: an APIService without the automanaged label is a user's and
// left alone.
func (a *aggregator) autoregister(ctx context.Context) error {
	want := a.wantLocal()
	a.mu.Lock()
	have := make(map[string]*apiregistrationv1.APIService, len(a.services))
	for n, s := range a.services {
		have[n] = s
	}
	a.mu.Unlock()
	var errs []error
	for name, w := range want {
		cur, ok := have[name]
		switch {
		case !ok:
			if _, err := a.s.create(ctx, a.res, "", w, false); err != nil && !apierrors.IsAlreadyExists(err) {
				errs = append(errs, err)
			}
		case cur.Labels[automanagedLabel] == "":
			// a user's
		case cur.Spec.Service != nil || cur.Spec.GroupPriorityMinimum != w.Spec.GroupPriorityMinimum ||
			cur.Spec.VersionPriority != w.Spec.VersionPriority || cur.Labels[automanagedLabel] != w.Labels[automanagedLabel]:
			_, err := a.s.update(ctx, a.res, "", name, "", func(obj runtime.Object) (runtime.Object, error) {
				c := obj.(*apiregistrationv1.APIService)
				c.Spec = w.Spec
				if c.Labels == nil {
					c.Labels = map[string]string{}
				}
				c.Labels[automanagedLabel] = w.Labels[automanagedLabel]
				return c, nil
			}, true, false)
			if err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
		}
	}
	for name, cur := range have {
		if _, ok := want[name]; ok || cur.Labels[automanagedLabel] == "" {
			continue
		}
		uid := cur.UID
		if _, err := a.s.remove(ctx, a.res, "", name, deleteWithUID(uid)); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// localStatus marks every local APIService Available (kube-aggregator's local availability
// controller).
func (a *aggregator) localStatus(ctx context.Context) {
	a.mu.Lock()
	var names []string
	for name, svc := range a.services {
		if svc.Spec.Service != nil {
			continue
		}
		if c := apiregistrationv1helper.GetAPIServiceConditionByType(svc, apiregistrationv1.Available); c != nil &&
			c.Status == apiregistrationv1.ConditionTrue && c.Reason == "Local" {
			continue
		}
		names = append(names, name)
	}
	a.mu.Unlock()
	for _, name := range names {
		cond := apiregistrationv1helper.NewLocalAvailableAPIServiceCondition()
		cond.LastTransitionTime = metav1.NewTime(a.s.now())
		if err := a.setCondition(ctx, name, "", cond); err != nil {
			a.s.log.Debug("local APIService status", "name", name, "err", err)
		}
	}
}

// setCondition writes cond into the APIService's status (kube-aggregator's
// SetAPIServiceCondition: lastTransitionTime kept while the status is unchanged). uid, when
// set, must be the APIService's.
func (a *aggregator) setCondition(ctx context.Context, name string, uid string, cond apiregistrationv1.APIServiceCondition) error {
	_, err := a.s.update(ctx, a.res, "", name, "status", func(obj runtime.Object) (runtime.Object, error) {
		c := obj.(*apiregistrationv1.APIService)
		if uid != "" && string(c.UID) != uid {
			return nil, errAPIServiceReplaced
		}
		apiregistrationv1helper.SetAPIServiceCondition(c, cond)
		return c, nil
	}, true, false)
	if apierrors.IsNotFound(err) || err == errAPIServiceReplaced {
		return nil
	}
	return err
}

var errAPIServiceReplaced = fmt.Errorf("the APIService was replaced")
