// Package quota measures what API objects use of a ResourceQuota, as Kubernetes'
// pkg/quota/v1/evaluator/core does: pods (compute resources, pods, scopes), services (node
// ports, load balancers), persistent volume claims (storage, per storage class), and an
// object count (count/RESOURCE.GROUP, and the legacy names such as configmaps) for every
// other resource. The evaluators implement k8s.io/apiserver's quota.Evaluator, so the API
// server's admission runs upstream's CheckRequest over them and the resource quota
// controller upstream's usage arithmetic.
package quota

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	quota "k8s.io/apiserver/pkg/quota/v1"
	"k8s.io/apiserver/pkg/quota/v1/generic"
)

// Lister lists the objects of one resource in a namespace (for usage recalculation).
type Lister func(gr schema.GroupResource) generic.ListFuncByNamespace

// Evaluators finds the evaluator of any resource.
type Evaluators struct {
	list Lister
	now  func() time.Time
}

// New returns evaluators listing objects through list (nil: usage stats list nothing) and
// reading the time from now (nil: time.Now).
func New(list Lister, now func() time.Time) *Evaluators {
	if now == nil {
		now = time.Now
	}
	if list == nil {
		list = func(schema.GroupResource) generic.ListFuncByNamespace {
			return func(string) ([]runtime.Object, error) { return nil, nil }
		}
	}
	return &Evaluators{list: list, now: now}
}

// legacy are the core resources counted under their own names too (Kubernetes' legacy
// object count names).
var legacy = map[string]corev1.ResourceName{
	"configmaps":             corev1.ResourceConfigMaps,
	"secrets":                corev1.ResourceSecrets,
	"replicationcontrollers": corev1.ResourceReplicationControllers,
	"resourcequotas":         corev1.ResourceQuotas,
}

// For returns the evaluator of gr.
func (e *Evaluators) For(gr schema.GroupResource) quota.Evaluator {
	list := e.list(gr)
	if gr.Group == "" {
		switch gr.Resource {
		case "pods":
			return &podEvaluator{list: list, now: e.now}
		case "services":
			return &serviceEvaluator{list: list}
		case "persistentvolumeclaims":
			return &pvcEvaluator{list: list}
		}
		return generic.NewObjectCountEvaluator(gr, list, legacy[gr.Resource])
	}
	return generic.NewObjectCountEvaluator(gr, list, "")
}

// ForQuota returns the evaluators a quota with these hard resources needs: the core ones and
// one per count/RESOURCE.GROUP name.
func (e *Evaluators) ForQuota(hard corev1.ResourceList) []quota.Evaluator {
	seen := map[schema.GroupResource]bool{}
	var out []quota.Evaluator
	add := func(gr schema.GroupResource) {
		if !seen[gr] {
			seen[gr] = true
			out = append(out, e.For(gr))
		}
	}
	for _, r := range []string{"pods", "services", "persistentvolumeclaims", "configmaps", "secrets", "replicationcontrollers", "resourcequotas"} {
		add(schema.GroupResource{Resource: r})
	}
	for name := range hard {
		if gr, ok := CountedResource(name); ok {
			add(gr)
		}
	}
	return out
}

// CountedResource parses an object count name, count/RESOURCE[.GROUP].
func CountedResource(name corev1.ResourceName) (schema.GroupResource, bool) {
	rest, ok := strings.CutPrefix(string(name), "count/")
	if !ok || rest == "" {
		return schema.GroupResource{}, false
	}
	res, group, _ := strings.Cut(rest, ".")
	return schema.GroupResource{Group: group, Resource: res}, true
}

// CalculateUsage is upstream's quota.CalculateUsage over the evaluators a quota needs.
func (e *Evaluators) CalculateUsage(ns string, rq *corev1.ResourceQuota) (corev1.ResourceList, error) {
	reg := generic.NewRegistry(e.ForQuota(rq.Spec.Hard))
	used, err := quota.CalculateUsage(ns, rq.Spec.Scopes, rq.Spec.Hard, reg, rq.Spec.ScopeSelector)
	if err != nil {
		return used, fmt.Errorf("quota %s/%s: %w", ns, rq.Name, err)
	}
	return used, nil
}
