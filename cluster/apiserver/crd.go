package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/conversion"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/drover-ci/drover/cluster/registry"
	"github.com/drover-ci/drover/cluster/store"
)

// CustomResourceDefinitions: the API server follows them in the store, serves the custom
// resources they define (registry.CustomResources) as soon as their names are accepted, and
// does what kube-apiserver's apiextensions controllers do for them: the naming controller's
// acceptedNames and NamesAccepted/Established conditions, and the finalizer controller's
// cleanup — deleting a CRD marks it Terminating with the customresourcecleanup finalizer,
// deletes every custom object (each the usual way: their own finalizers hold it), and lets
// the CRD go once none is left. Every API server of a cluster does this; their status writes
// are ordinary updates, so a second server's conflicting write just retries.

// crdCleanupFinalizer holds a deleted CRD until its custom objects are gone.
const crdCleanupFinalizer = apiextensionsv1.CustomResourceCleanupFinalizer

var crdGVR = apiextensionsv1.SchemeGroupVersion.WithResource("customresourcedefinitions")

// crdController keeps the served custom resources current.
type crdController struct {
	s   *Server
	res *registry.Resource // customresourcedefinitions (nil: not served, nothing to do)

	mu          sync.Mutex
	crds        map[string]*apiextensionsv1.CustomResourceDefinition // by name
	accepted    map[string]bool                                      // CRD names whose names are accepted
	terminating map[schema.GroupResource]bool
	// fingerprint is what the served custom resources were last built from (each accepted
	// CRD's name, uid, generation and accepted names): status writes do not rebuild them.
	fingerprint string
	kick        chan struct{}
	// converters calls the CRDs' conversion webhooks (apiextensions-apiserver's own).
	converters *conversion.CRConverterFactory
}

func newCRDController(s *Server) *crdController {
	res, _ := s.resources.Lookup(crdGVR)
	converters, err := conversion.NewCRConverterFactory(endpointResolver{s: s}, nil)
	if err != nil {
		// Only a bug gets here: the factory builds its webhook client manager from constants.
		panic(fmt.Sprintf("apiserver: conversion webhooks: %v", err))
	}
	return &crdController{s: s, res: res, crds: map[string]*apiextensionsv1.CustomResourceDefinition{},
		accepted: map[string]bool{}, terminating: map[schema.GroupResource]bool{}, kick: make(chan struct{}, 1),
		converters: converters}
}

// customResources builds the resources crd serves, converting through its webhook when it has
// one (kube-apiserver's CR converter: the ConversionReview sent, the answer checked, metadata
// kept).
func (c *crdController) customResources(crd *apiextensionsv1.CustomResourceDefinition) ([]*registry.Resource, error) {
	if crd.Spec.Conversion == nil || crd.Spec.Conversion.Strategy != apiextensionsv1.WebhookConverter {
		return registry.CustomResources(crd)
	}
	safe, _, err := c.converters.NewConverter(crd)
	if err != nil {
		return nil, fmt.Errorf("conversion webhook: %w", err)
	}
	return registry.CustomResourcesConverting(crd, func(u *unstructured.Unstructured, to schema.GroupVersion) (*unstructured.Unstructured, error) {
		out, err := safe.ConvertToVersion(u, to)
		if err != nil {
			return nil, apierrors.NewInternalError(fmt.Errorf("conversion webhook for %s failed: %w", u.GroupVersionKind(), err))
		}
		cu, ok := out.(*unstructured.Unstructured)
		if !ok {
			return nil, fmt.Errorf("conversion of %s gave %T", u.GroupVersionKind(), out)
		}
		return cu, nil
	})
}

func crdPrefix(res *registry.Resource) string { return listPrefix(res, "") }

// load lists the CRDs and serves their resources; it returns the store revision of the list.
func (c *crdController) load(ctx context.Context) (int64, error) {
	if c.res == nil {
		return 0, nil
	}
	kvs, rev, err := c.s.store.List(ctx, crdPrefix(c.res))
	if err != nil {
		return 0, fmt.Errorf("list CustomResourceDefinitions: %w", err)
	}
	crds := map[string]*apiextensionsv1.CustomResourceDefinition{}
	for _, kv := range kvs {
		crd, err := c.decode(kv.Value, kv.Revision)
		if err != nil {
			c.s.log.Warn("skipping a CustomResourceDefinition that does not decode", "key", kv.Key, "err", err)
			continue
		}
		crds[crd.Name] = crd
	}
	c.mu.Lock()
	c.crds = crds
	c.mu.Unlock()
	c.apply()
	return rev, nil
}

func (c *crdController) decode(value []byte, rev int64) (*apiextensionsv1.CustomResourceDefinition, error) {
	obj, err := decodeObject(c.res, value, rev)
	if err != nil {
		return nil, err
	}
	crd, ok := obj.(*apiextensionsv1.CustomResourceDefinition)
	if !ok {
		return nil, fmt.Errorf("stored CustomResourceDefinition decodes to %T", obj)
	}
	return crd, nil
}

// run follows the CRDs from rev until ctx ends, and reconciles their status and cleanup.
func (c *crdController) run(ctx context.Context, rev int64) {
	if c.res == nil {
		return
	}
	go c.work(ctx)
	c.poke()
	load := func(ctx context.Context) (int64, error) {
		rev, err := c.load(ctx)
		c.poke()
		return rev, err
	}
	c.s.followPrefix(ctx, "CustomResourceDefinition", crdPrefix(c.res), rev, load, func(ev store.Event) {
		switch ev.Type {
		case store.Put:
			crd, err := c.decode(ev.Value, ev.Revision)
			if err != nil {
				c.s.log.Warn("skipping a CustomResourceDefinition that does not decode", "key", ev.Key, "err", err)
				return
			}
			c.mu.Lock()
			c.crds[crd.Name] = crd
			c.mu.Unlock()
		case store.Delete:
			name := ev.Key[strings.LastIndex(ev.Key, "/")+1:]
			c.mu.Lock()
			delete(c.crds, name)
			c.mu.Unlock()
		}
		c.apply()
		c.poke()
	})
}

func (c *crdController) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// apply serves the custom resources of every CRD whose names are accepted: the first CRD (by
// creation time, then name) to claim a group's plural, singular, kind or list kind keeps
// them, as kube-apiserver's naming controller decides.
func (c *crdController) apply() {
	c.mu.Lock()
	crds := make([]*apiextensionsv1.CustomResourceDefinition, 0, len(c.crds))
	for _, crd := range c.crds {
		crds = append(crds, crd)
	}
	c.mu.Unlock()
	sort.Slice(crds, func(i, j int) bool {
		a, b := crds[i].CreationTimestamp, crds[j].CreationTimestamp
		if !a.Equal(&b) {
			return a.Before(&b)
		}
		return crds[i].Name < crds[j].Name
	})
	claimed := map[string]string{} // group + "/" + name → CRD
	accepted := map[string]bool{}
	terminating := map[schema.GroupResource]bool{}
	var served []*apiextensionsv1.CustomResourceDefinition
	var fp strings.Builder // what the served resources depend on
	for _, crd := range crds {
		if conflict := namesConflict(crd, claimed); conflict != "" {
			continue
		}
		for _, n := range crdNames(crd) {
			claimed[crd.Spec.Group+"/"+n] = crd.Name
		}
		accepted[crd.Name] = true
		if crd.DeletionTimestamp != nil {
			terminating[schema.GroupResource{Group: crd.Spec.Group, Resource: crd.Spec.Names.Plural}] = true
		}
		served = append(served, crd)
		names, _ := json.Marshal(crd.Status.AcceptedNames)
		fmt.Fprintf(&fp, "%s/%s/%d/%s;", crd.Name, crd.UID, crd.Generation, names)
	}
	c.mu.Lock()
	c.accepted = accepted
	c.terminating = terminating
	unchanged := c.fingerprint == fp.String()
	c.fingerprint = fp.String()
	c.mu.Unlock()
	if unchanged {
		return // a status write (conditions) or a finalizer: the same resources
	}
	var rs []*registry.Resource
	for _, crd := range served {
		r, err := c.customResources(crd)
		if err != nil {
			c.s.log.Warn("not serving a CustomResourceDefinition", "crd", crd.Name, "err", err)
			continue
		}
		rs = append(rs, r...)
	}
	if shadowed := c.s.resources.SetCustom(rs); len(shadowed) > 0 {
		c.s.log.Warn("custom resources not served: a built-in resource has their names", "resources", shadowed)
	}
	c.s.fields.forgetCustom()
	c.s.rebuildDiscovery()
	c.s.agg.poke() // the CRDs' local APIServices
	c.s.gc.resourcesChanged()
}

// crdNames are the names a CRD claims in its group.
func crdNames(crd *apiextensionsv1.CustomResourceDefinition) []string {
	n := crd.Spec.Names
	out := []string{"plural:" + n.Plural, "kind:" + n.Kind}
	if n.Singular != "" {
		out = append(out, "plural:"+n.Singular)
	}
	if n.ListKind != "" {
		out = append(out, "kind:"+n.ListKind)
	}
	for _, s := range n.ShortNames {
		out = append(out, "short:"+s)
	}
	return out
}

// namesConflict returns the message of the first name crd claims that another holds.
func namesConflict(crd *apiextensionsv1.CustomResourceDefinition, claimed map[string]string) string {
	for _, n := range crdNames(crd) {
		if other, ok := claimed[crd.Spec.Group+"/"+n]; ok && other != crd.Name {
			_, name, _ := strings.Cut(n, ":")
			return fmt.Sprintf("%q is already in use", name)
		}
	}
	return ""
}

// isTerminating reports whether the CRD of gr is being deleted (its objects may not be created).
func (c *crdController) isTerminating(gr schema.GroupResource) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.terminating[gr]
}

// work reconciles the CRDs' status and cleanup each time something changed, and again a second
// later while something is left to do.
func (c *crdController) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
		}
		if pending := c.reconcile(ctx); pending && ctx.Err() == nil {
			go func() {
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
					c.poke()
				}
			}()
		}
	}
}

// reconcile brings every CRD's status in line and cleans up deleted ones. It reports whether
// something is still to do (a cleanup waiting for objects to go, a failed write).
func (c *crdController) reconcile(ctx context.Context) (pending bool) {
	c.mu.Lock()
	crds := make([]*apiextensionsv1.CustomResourceDefinition, 0, len(c.crds))
	for _, crd := range c.crds {
		crds = append(crds, crd)
	}
	accepted := c.accepted
	c.mu.Unlock()
	for _, crd := range crds {
		if ctx.Err() != nil {
			return false
		}
		if crd.DeletionTimestamp != nil && hasFinalizer(&crd.ObjectMeta, crdCleanupFinalizer) {
			done, err := c.cleanup(ctx, crd)
			if err != nil {
				c.s.log.Warn("CustomResourceDefinition cleanup", "crd", crd.Name, "err", err)
			}
			pending = pending || !done || err != nil
			continue
		}
		if err := c.updateStatus(ctx, crd, accepted[crd.Name]); err != nil {
			c.s.log.Debug("CustomResourceDefinition status", "crd", crd.Name, "err", err)
			pending = true
		}
	}
	return pending
}

// wantConditions are the conditions of a CRD whose names are (or are not) accepted.
func wantConditions(accepted bool, claimedBy string) []apiextensionsv1.CustomResourceDefinitionCondition {
	if accepted {
		return []apiextensionsv1.CustomResourceDefinitionCondition{
			{Type: apiextensionsv1.NamesAccepted, Status: apiextensionsv1.ConditionTrue, Reason: "NoConflicts", Message: "no conflicts found"},
			{Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionTrue, Reason: "InitialNamesAccepted", Message: "the initial names have been accepted"},
		}
	}
	return []apiextensionsv1.CustomResourceDefinitionCondition{
		{Type: apiextensionsv1.NamesAccepted, Status: apiextensionsv1.ConditionFalse, Reason: "MultipleNamesNotAccepted", Message: claimedBy},
		{Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionFalse, Reason: "NotAccepted", Message: "not all names are accepted"},
	}
}

// setCondition sets one condition, keeping lastTransitionTime when the status is unchanged.
func setCondition(conds []apiextensionsv1.CustomResourceDefinitionCondition, want apiextensionsv1.CustomResourceDefinitionCondition, now time.Time) ([]apiextensionsv1.CustomResourceDefinitionCondition, bool) {
	for i, cur := range conds {
		if cur.Type != want.Type {
			continue
		}
		if cur.Status == want.Status && cur.Reason == want.Reason && cur.Message == want.Message {
			return conds, false
		}
		want.LastTransitionTime = cur.LastTransitionTime
		if cur.Status != want.Status {
			want.LastTransitionTime = metav1.NewTime(now)
		}
		conds[i] = want
		return conds, true
	}
	want.LastTransitionTime = metav1.NewTime(now)
	return append(conds, want), true
}

// updateStatus writes acceptedNames and the NamesAccepted and Established conditions.
func (c *crdController) updateStatus(ctx context.Context, crd *apiextensionsv1.CustomResourceDefinition, accepted bool) error {
	c.mu.Lock()
	others := make(map[string]string)
	for _, o := range c.crds {
		if c.accepted[o.Name] && o.Name != crd.Name {
			for _, n := range crdNames(o) {
				others[o.Spec.Group+"/"+n] = o.Name
			}
		}
	}
	c.mu.Unlock()
	msg := namesConflict(crd, others)
	if !needsStatus(crd, accepted, msg, c.s.now()) {
		return nil
	}
	_, err := c.s.update(ctx, c.res, "", crd.Name, "status", func(cur runtime.Object) (runtime.Object, error) {
		cc := cur.(*apiextensionsv1.CustomResourceDefinition)
		if cc.UID != crd.UID {
			return nil, errCRDReplaced
		}
		if accepted {
			cc.Status.AcceptedNames = cc.Spec.Names
		}
		for _, want := range wantConditions(accepted, msg) {
			cc.Status.Conditions, _ = setCondition(cc.Status.Conditions, want, c.s.now())
		}
		return cc, nil
	}, true, false)
	if errors.Is(err, errCRDReplaced) {
		return nil
	}
	return ignoreNotFound(err)
}

var errCRDReplaced = errors.New("the CustomResourceDefinition was replaced")

// needsStatus reports whether crd's status differs from what updateStatus would write.
func needsStatus(crd *apiextensionsv1.CustomResourceDefinition, accepted bool, msg string, now time.Time) bool {
	if accepted && !apiequality.Semantic.DeepEqual(crd.Status.AcceptedNames, crd.Spec.Names) {
		return true
	}
	conds := append([]apiextensionsv1.CustomResourceDefinitionCondition(nil), crd.Status.Conditions...)
	for _, want := range wantConditions(accepted, msg) {
		var changed bool
		if conds, changed = setCondition(conds, want, now); changed {
			return true
		}
	}
	return false
}

// markCRDDeletion is what deleting a CRD does first (kube-apiserver's CRD REST Delete): the
// cleanup finalizer and the Terminating condition, so that its objects go before it does.
func (c *crdController) markDeletion(obj runtime.Object) bool {
	crd, ok := obj.(*apiextensionsv1.CustomResourceDefinition)
	if !ok || crd.DeletionTimestamp != nil {
		return false
	}
	addFinalizer(&crd.ObjectMeta, crdCleanupFinalizer)
	crd.Status.Conditions, _ = setCondition(crd.Status.Conditions, apiextensionsv1.CustomResourceDefinitionCondition{
		Type: apiextensionsv1.Terminating, Status: apiextensionsv1.ConditionTrue, Reason: "InstanceDeletionPending",
		Message: "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon"}, c.s.now())
	return true
}

// cleanup deletes the objects of a CRD being deleted, and drops its finalizer once none is
// left. done reports that the CRD is free to go.
func (c *crdController) cleanup(ctx context.Context, crd *apiextensionsv1.CustomResourceDefinition) (done bool, err error) {
	res := c.storedResource(crd)
	left := 0
	if res != nil {
		kvs, _, err := c.s.store.List(ctx, listPrefix(res, ""))
		if err != nil {
			return false, err
		}
		for _, kv := range kvs {
			obj, err := decodeObject(res, kv.Value, kv.Revision)
			if err != nil {
				return false, err
			}
			m := accessor(obj)
			left++
			if m.GetDeletionTimestamp() != nil {
				continue // deleting already: its finalizers hold it
			}
			uid := m.GetUID()
			if _, err := c.s.remove(ctx, res, m.GetNamespace(), m.GetName(), &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				return false, err
			}
		}
	}
	if left > 0 {
		_, _ = c.s.update(ctx, c.res, "", crd.Name, "status", func(cur runtime.Object) (runtime.Object, error) {
			cc := cur.(*apiextensionsv1.CustomResourceDefinition)
			cc.Status.Conditions, _ = setCondition(cc.Status.Conditions, apiextensionsv1.CustomResourceDefinitionCondition{
				Type: apiextensionsv1.Terminating, Status: apiextensionsv1.ConditionTrue, Reason: "InstanceDeletionInProgress",
				Message: "CustomResource deletion is in progress"}, c.s.now())
			return cc, nil
		}, true, false)
		// Check again: the deletions just made finish now, or when their finalizers go.
		if again, _, err := c.s.store.List(ctx, listPrefix(res, "")); err != nil || len(again) > 0 {
			return false, err
		}
	}
	return true, c.s.gc.dropFinalizer(ctx, c.res, &crd.ObjectMeta, crdCleanupFinalizer)
}

// storedResource is a resource of crd whose keys are its objects' keys (every version of a
// CRD shares them): a served one, else one built for the storage version even when no version
// is served any more, so that the objects are deleted all the same.
func (c *crdController) storedResource(crd *apiextensionsv1.CustomResourceDefinition) *registry.Resource {
	for _, v := range crd.Spec.Versions {
		if r, ok := c.s.resources.Lookup(schema.GroupVersionResource{Group: crd.Spec.Group, Version: v.Name, Resource: crd.Spec.Names.Plural}); ok && r.Custom {
			return r
		}
	}
	storage := crd.DeepCopy()
	for i := range storage.Spec.Versions {
		v := &storage.Spec.Versions[i]
		v.Served = v.Storage
	}
	rs, err := c.customResources(storage)
	if err != nil || len(rs) == 0 {
		return nil
	}
	return rs[0]
}
