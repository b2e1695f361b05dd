package apiserver

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	schedulinglisters "k8s.io/client-go/listers/scheduling/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/drover-ci/drover/cluster/registry"
)

// priorityClassCache is the PriorityClasses as the loopback informers hold them: what the
// Priority admission of pods reads, as kube-apiserver's plugin reads its lister, so that a pod
// create does not read the store for them. Like the lister it may lag a write by a moment: a
// pod created in the same instant as a new globalDefault class may not get it, as on
// Kubernetes; a class a pod names that the cache does not hold yet is read from the store.
type priorityClassCache struct {
	lister schedulinglisters.PriorityClassLister
	synced cache.InformerSynced
}

// newPriorityClassCache registers the PriorityClass informer with factory (before it starts).
func newPriorityClassCache(factory informers.SharedInformerFactory) *priorityClassCache {
	inf := factory.Scheduling().V1().PriorityClasses()
	return &priorityClassCache{lister: inf.Lister(), synced: inf.Informer().HasSynced}
}

// priorityClassCache is the cache when it can answer (synced), else nil: read the store.
func (s *Server) priorityClassCache() *priorityClassCache {
	if c := s.priorityClasses.Load(); c != nil && c.synced() {
		return c
	}
	return nil
}

// The Priority admission plugin (Kubernetes' plugin/pkg/admission/priority/admission.go) and
// the system PriorityClasses (pkg/registry/scheduling/rest/storage_scheduling.go and
// priorityclass/storage/storage.go).

var priorityClassGVR = schema.GroupVersionResource{Group: registry.SchedulingGroup, Version: "v1", Resource: "priorityclasses"}

// admitPriority resolves a new pod's priority as Kubernetes' Priority admission does: the
// named PriorityClass must exist (403 "no PriorityClass with name X was found"); a pod naming
// none gets the global default class (its name too) or priority 0 and PreemptLowerPriority; a
// spec.priority or spec.preemptionPolicy the pod gives that differs from the class's is
// refused.
func (s *Server) admitPriority(ctx context.Context, pod *corev1.Pod) error {
	forbidden := func(err error) error {
		return apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, pod.Name, err)
	}
	var priority int32
	var policy *corev1.PreemptionPolicy
	pcs := s.priorityClassCache()
	if pod.Spec.PriorityClassName == "" {
		var dpc *schedulingv1.PriorityClass
		var err error
		if pcs != nil {
			dpc, err = pcs.defaultClass()
		} else {
			dpc, err = s.defaultPriorityClass(ctx)
		}
		if err != nil {
			return fmt.Errorf("failed to get default priority class: %v", err)
		}
		if dpc != nil {
			pod.Spec.PriorityClassName, priority, policy = dpc.Name, dpc.Value, dpc.PreemptionPolicy
		} else {
			lower := corev1.PreemptLowerPriority
			policy = &lower
		}
	} else {
		var pc *schedulingv1.PriorityClass
		var err error
		if pcs != nil {
			pc, err = pcs.lister.Get(pod.Spec.PriorityClassName)
		}
		if pcs == nil || apierrors.IsNotFound(err) {
			pc, err = s.priorityClass(ctx, pod.Spec.PriorityClassName)
		}
		if err != nil {
			if apierrors.IsNotFound(err) {
				return forbidden(fmt.Errorf("no PriorityClass with name %v was found", pod.Spec.PriorityClassName))
			}
			return fmt.Errorf("failed to get PriorityClass with name %s: %v", pod.Spec.PriorityClassName, err)
		}
		priority, policy = pc.Value, pc.PreemptionPolicy
	}
	if pod.Spec.Priority != nil && *pod.Spec.Priority != priority {
		return forbidden(fmt.Errorf("the integer value of priority (%d) must not be provided in pod spec; priority admission controller computed %d from the given PriorityClass name", *pod.Spec.Priority, priority))
	}
	pod.Spec.Priority = &priority
	if policy != nil {
		p := *policy
		if pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy != p {
			return forbidden(fmt.Errorf("the string value of PreemptionPolicy (%s) must not be provided in pod spec; priority admission controller computed %s from the given PriorityClass name", *pod.Spec.PreemptionPolicy, p))
		}
		pod.Spec.PreemptionPolicy = &p
	}
	return nil
}

// admitPriorityUpdate keeps a pod's priority and preemptionPolicy when an update leaves them
// out, as the Priority plugin does (validation then refuses any other change to them).
func admitPriorityUpdate(res *registry.Resource, sub string, obj, old runtime.Object) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || sub != "" || res.Group != "" {
		return
	}
	oldPod := old.(*corev1.Pod)
	if pod.Spec.Priority == nil && oldPod.Spec.Priority != nil {
		p := *oldPod.Spec.Priority
		pod.Spec.Priority = &p
	}
	if pod.Spec.PreemptionPolicy == nil && oldPod.Spec.PreemptionPolicy != nil {
		p := *oldPod.Spec.PreemptionPolicy
		pod.Spec.PreemptionPolicy = &p
	}
}

// validatePriorityClass is the Priority plugin's validation of PriorityClass creates and
// updates (not of subresources): a class marked globalDefault while another one is refused.
func (s *Server) validatePriorityClass(ctx context.Context, res *registry.Resource, sub string, obj runtime.Object, create bool) error {
	pc, ok := obj.(*schedulingv1.PriorityClass)
	if !ok || sub != "" || res.Group != registry.SchedulingGroup || !pc.GlobalDefault {
		return nil
	}
	dpc, err := s.defaultPriorityClass(ctx)
	if err != nil {
		return fmt.Errorf("failed to get default priority class: %v", err)
	}
	// A second default is refused, as is an existing class becoming one.
	if dpc != nil && (create || dpc.Name != pc.Name) {
		return apierrors.NewForbidden(res.GroupVersionResource().GroupResource(), pc.Name,
			fmt.Errorf("PriorityClass %v is already marked as default. Only one default can exist", dpc.Name))
	}
	return nil
}

// defaultPriorityClass is the Priority plugin's getDefaultPriorityClass read from the store
// (what the validation of PriorityClass writes reads, and pod creates until the cache is
// synced): of the classes marked globalDefault (more than one only after a race), the one
// with the lowest value; nil if none.
func (s *Server) defaultPriorityClass(ctx context.Context) (*schedulingv1.PriorityClass, error) {
	res, ok := s.resources.Lookup(priorityClassGVR)
	if !ok {
		return nil, nil
	}
	objs, _, err := s.listObjects(ctx, res, "")
	if err != nil {
		return nil, err
	}
	classes := make([]*schedulingv1.PriorityClass, 0, len(objs))
	for _, obj := range objs {
		classes = append(classes, obj.(*schedulingv1.PriorityClass))
	}
	return lowestDefault(classes), nil
}

// defaultClass is defaultPriorityClass from the cache.
func (c *priorityClassCache) defaultClass() (*schedulingv1.PriorityClass, error) {
	classes, err := c.lister.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	return lowestDefault(classes), nil
}

// lowestDefault is, of the classes marked globalDefault, the one with the lowest value.
func lowestDefault(classes []*schedulingv1.PriorityClass) *schedulingv1.PriorityClass {
	var dpc *schedulingv1.PriorityClass
	for _, pc := range classes {
		if pc.GlobalDefault && (dpc == nil || dpc.Value > pc.Value) {
			dpc = pc
		}
	}
	return dpc
}

// priorityClass reads a PriorityClass (NotFound when the server does not serve them).
func (s *Server) priorityClass(ctx context.Context, name string) (*schedulingv1.PriorityClass, error) {
	res, ok := s.resources.Lookup(priorityClassGVR)
	if !ok {
		return nil, apierrors.NewNotFound(priorityClassGVR.GroupResource(), name)
	}
	obj, _, err := s.getObject(ctx, res, "", name)
	if err != nil {
		return nil, err
	}
	return obj.(*schedulingv1.PriorityClass), nil
}

// refuseSystemPriorityClassDelete is kube-apiserver's priorityclass REST Delete: the system
// classes cannot be deleted (whether or not they exist). As there, a deletecollection is not
// checked: what it deletes comes back at the next start (ensureSystemPriorityClasses).
func refuseSystemPriorityClassDelete(res *registry.Resource, name string) error {
	if res.Group != registry.SchedulingGroup || res.Resource != "priorityclasses" || !registry.IsSystemPriorityClass(name) {
		return nil
	}
	return apierrors.NewForbidden(res.GroupVersionResource().GroupResource(), name, errors.New("this is a system priority class and cannot be deleted"))
}

// ensureSystemPriorityClasses creates the system PriorityClasses that are missing, as
// kube-apiserver's scheduling/bootstrap-system-priority-classes post-start hook does at every
// start (existing ones are left as they are).
func (s *Server) ensureSystemPriorityClasses(ctx context.Context) error {
	res, ok := s.resources.Lookup(priorityClassGVR)
	if !ok {
		return nil
	}
	for _, pc := range registry.SystemPriorityClasses() {
		_, _, err := s.getObject(ctx, res, "", pc.Name)
		if err == nil {
			continue
		}
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("get PriorityClass %s: %w", pc.Name, err)
		}
		if _, err := s.create(ctx, res, "", pc, false); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create PriorityClass %s: %w", pc.Name, err)
		}
		s.log.Debug("created PriorityClass", "name", pc.Name, "value", pc.Value)
	}
	return nil
}
