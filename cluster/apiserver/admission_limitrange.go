package apiserver

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	resourcehelper "k8s.io/component-helpers/resource"

	"github.com/drover-ci/drover/cluster/registry"
)

// limitRangerAnnotation records the defaults LimitRanger set on a pod.
const limitRangerAnnotation = "kubernetes.io/limit-ranger"

// limitRanges reads the LimitRanges of namespace ns (none when the resource is not served).
func (s *Server) limitRanges(ctx context.Context, ns string) ([]*corev1.LimitRange, error) {
	res, ok := s.resources.Lookup(schema.GroupVersionResource{Version: "v1", Resource: "limitranges"})
	if !ok {
		return nil, nil
	}
	objs, _, err := s.listObjects(ctx, res, ns)
	if err != nil {
		return nil, err
	}
	out := make([]*corev1.LimitRange, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.(*corev1.LimitRange))
	}
	return out, nil
}

// limitRangerApplies: Kubernetes' LimitRanger acts on pods when they are created and on
// claims when they are created or updated.
func limitRangerApplies(res *registry.Resource, sub string, obj runtime.Object, update bool) bool {
	if res.Group != "" || sub != "" {
		return false
	}
	switch obj.(type) {
	case *corev1.Pod:
		return !update
	case *corev1.PersistentVolumeClaim:
		return true
	}
	return false
}

// defaultLimits is LimitRanger's mutating half: each container and init container gets the
// default limits and requests of the namespace's Container limits it does not state, and the
// pod the kubernetes.io/limit-ranger annotation saying what was set.
func (s *Server) defaultLimits(ctx context.Context, pod *corev1.Pod) error {
	lrs, err := s.limitRanges(ctx, pod.Namespace)
	if err != nil {
		return err
	}
	for _, lr := range lrs {
		defaults := corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}
		for _, l := range lr.Spec.Limits {
			if l.Type != corev1.LimitTypeContainer {
				continue
			}
			for k, v := range l.DefaultRequest {
				defaults.Requests[k] = v.DeepCopy()
			}
			for k, v := range l.Default {
				defaults.Limits[k] = v.DeepCopy()
			}
		}
		var notes []string
		for i := range pod.Spec.Containers {
			notes = mergeContainerDefaults(&pod.Spec.Containers[i], &defaults, "container", notes)
		}
		for i := range pod.Spec.InitContainers {
			notes = mergeContainerDefaults(&pod.Spec.InitContainers[i], &defaults, "init container", notes)
		}
		if len(notes) > 0 {
			if pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			pod.Annotations[limitRangerAnnotation] = "LimitRanger plugin set: " + strings.Join(notes, "; ")
		}
	}
	return nil
}

// mergeContainerDefaults is Kubernetes' mergeContainerResources.
func mergeContainerDefaults(c *corev1.Container, defaults *corev1.ResourceRequirements, prefix string, notes []string) []string {
	if c.Resources.Limits == nil {
		c.Resources.Limits = corev1.ResourceList{}
	}
	if c.Resources.Requests == nil {
		c.Resources.Requests = corev1.ResourceList{}
	}
	var setRequests, setLimits []string
	for k, v := range defaults.Limits {
		if _, ok := c.Resources.Limits[k]; !ok {
			c.Resources.Limits[k] = v.DeepCopy()
			setLimits = append(setLimits, string(k))
		}
	}
	for k, v := range defaults.Requests {
		if _, ok := c.Resources.Requests[k]; !ok {
			c.Resources.Requests[k] = v.DeepCopy()
			setRequests = append(setRequests, string(k))
		}
	}
	if len(setRequests) > 0 {
		sort.Strings(setRequests)
		notes = append(notes, strings.Join(setRequests, ", ")+fmt.Sprintf(" request for %s %s", prefix, c.Name))
	}
	if len(setLimits) > 0 {
		sort.Strings(setLimits)
		notes = append(notes, strings.Join(setLimits, ", ")+fmt.Sprintf(" limit for %s %s", prefix, c.Name))
	}
	return notes
}

// admitLimits is LimitRanger's validating half: a pod's containers (Container limits) and the
// pod as a whole (Pod limits) within min, max and maxLimitRequestRatio, a claim's storage
// request within its PersistentVolumeClaim limits; otherwise 403 with Kubernetes' messages
// ("maximum cpu usage per Container is 1, but limit is 2").
func (s *Server) admitLimits(ctx context.Context, res *registry.Resource, obj runtime.Object) error {
	m := accessor(obj)
	lrs, err := s.limitRanges(ctx, m.GetNamespace())
	if err != nil {
		return err
	}
	var errs []error
	for _, lr := range lrs {
		switch o := obj.(type) {
		case *corev1.Pod:
			errs = append(errs, podLimitErrors(lr, o)...)
		case *corev1.PersistentVolumeClaim:
			errs = append(errs, claimLimitErrors(lr, o)...)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewForbidden(res.GroupVersionResource().GroupResource(), m.GetName(), utilerrors.NewAggregate(errs))
}

// podLimitErrors is Kubernetes' PodValidateLimitFunc.
func podLimitErrors(lr *corev1.LimitRange, pod *corev1.Pod) []error {
	var errs []error
	check := func(t string, l corev1.LimitRangeItem, req, lim corev1.ResourceList) {
		for _, k := range sortedNames(l.Min) {
			errs = appendErr(errs, minConstraint(t, k, l.Min[k], req, lim))
		}
		for _, k := range sortedNames(l.Max) {
			errs = appendErr(errs, maxConstraint(t, k, l.Max[k], req, lim))
		}
		for _, k := range sortedNames(l.MaxLimitRequestRatio) {
			errs = appendErr(errs, ratioConstraint(t, k, l.MaxLimitRequestRatio[k], req, lim))
		}
	}
	for _, l := range lr.Spec.Limits {
		switch l.Type {
		case corev1.LimitTypeContainer:
			for _, cs := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
				for _, c := range cs {
					check(string(l.Type), l, c.Resources.Requests, c.Resources.Limits)
				}
			}
		case corev1.LimitTypePod:
			opts := resourcehelper.PodResourcesOptions{ExcludeOverhead: true, SkipPodLevelResources: true}
			check(string(l.Type), l, resourcehelper.PodRequests(pod, opts), resourcehelper.PodLimits(pod, opts))
		}
	}
	return errs
}

// claimLimitErrors is Kubernetes' PersistentVolumeClaimValidateLimitFunc.
func claimLimitErrors(lr *corev1.LimitRange, pvc *corev1.PersistentVolumeClaim) []error {
	var errs []error
	for _, l := range lr.Spec.Limits {
		if l.Type != corev1.LimitTypePersistentVolumeClaim {
			continue
		}
		for _, k := range sortedNames(l.Min) {
			errs = appendErr(errs, minConstraint(string(l.Type), k, l.Min[k], pvc.Spec.Resources.Requests, corev1.ResourceList{}))
		}
		for _, k := range sortedNames(l.Max) {
			errs = appendErr(errs, maxRequestConstraint(string(l.Type), k, l.Max[k], pvc.Spec.Resources.Requests))
		}
	}
	return errs
}

func appendErr(errs []error, err error) []error {
	if err != nil {
		return append(errs, err)
	}
	return errs
}

func sortedNames(l corev1.ResourceList) []corev1.ResourceName {
	out := make([]corev1.ResourceName, 0, len(l))
	for k := range l {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// enforcedValues compares in milli-units when nothing overflows.
func enforcedValues(req, lim, enforced resource.Quantity) (int64, int64, int64) {
	r, l, e := req.Value(), lim.Value(), enforced.Value()
	if r <= resource.MaxMilliValue && l <= resource.MaxMilliValue && e <= resource.MaxMilliValue {
		return req.MilliValue(), lim.MilliValue(), enforced.MilliValue()
	}
	return r, l, e
}

func minConstraint(t string, k corev1.ResourceName, enforced resource.Quantity, request, limit corev1.ResourceList) error {
	req, reqOK := request[k]
	lim, limOK := limit[k]
	r, l, e := enforcedValues(req, lim, enforced)
	switch {
	case !reqOK:
		return fmt.Errorf("minimum %s usage per %s is %s.  No request is specified", k, t, enforced.String())
	case r < e:
		return fmt.Errorf("minimum %s usage per %s is %s, but request is %s", k, t, enforced.String(), req.String())
	case limOK && l < e:
		return fmt.Errorf("minimum %s usage per %s is %s, but limit is %s", k, t, enforced.String(), lim.String())
	}
	return nil
}

func maxRequestConstraint(t string, k corev1.ResourceName, enforced resource.Quantity, request corev1.ResourceList) error {
	req, reqOK := request[k]
	r, _, e := enforcedValues(req, resource.Quantity{}, enforced)
	switch {
	case !reqOK:
		return fmt.Errorf("maximum %s usage per %s is %s.  No request is specified", k, t, enforced.String())
	case r > e:
		return fmt.Errorf("maximum %s usage per %s is %s, but request is %s", k, t, enforced.String(), req.String())
	}
	return nil
}

func maxConstraint(t string, k corev1.ResourceName, enforced resource.Quantity, request, limit corev1.ResourceList) error {
	req, reqOK := request[k]
	lim, limOK := limit[k]
	r, l, e := enforcedValues(req, lim, enforced)
	switch {
	case !limOK:
		return fmt.Errorf("maximum %s usage per %s is %s.  No limit is specified", k, t, enforced.String())
	case l > e:
		return fmt.Errorf("maximum %s usage per %s is %s, but limit is %s", k, t, enforced.String(), lim.String())
	case reqOK && r > e:
		return fmt.Errorf("maximum %s usage per %s is %s, but request is %s", k, t, enforced.String(), req.String())
	}
	return nil
}

func ratioConstraint(t string, k corev1.ResourceName, enforced resource.Quantity, request, limit corev1.ResourceList) error {
	req, reqOK := request[k]
	lim, limOK := limit[k]
	r, l, _ := enforcedValues(req, lim, enforced)
	if !reqOK || r == 0 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no request is specified or request is 0", k, t, enforced.String())
	}
	if !limOK || l == 0 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no limit is specified or limit is 0", k, t, enforced.String())
	}
	observed := float64(l) / float64(r)
	display, max := observed, float64(enforced.Value())
	if enforced.Value() <= resource.MaxMilliValue {
		observed, max = observed*1000, float64(enforced.MilliValue())
	}
	if observed > max {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but provided ratio is %f", k, t, enforced.String(), display)
	}
	return nil
}
