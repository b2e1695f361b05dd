package apiserver

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"

	"github.com/drover-ci/drover/cluster/registry"
	"github.com/drover-ci/drover/cluster/store"
)

// Finalizers the garbage collector acts on, as in Kubernetes.
const (
	finalizerForeground = metav1.FinalizerDeleteDependents // "foregroundDeletion"
	finalizerOrphan     = metav1.FinalizerOrphanDependents // "orphan"
)

// protectedNamespaces may not be deleted.
var protectedNamespaces = map[string]bool{"default": true, "kube-system": true, "kube-public": true}

// remove deletes an object the Kubernetes way: preconditions, graceful pod deletion,
// finalizers for foreground and orphan propagation, namespaces marked Terminating. It returns
// the object as it was last stored (with deletionTimestamp when the deletion is pending).
func (s *Server) remove(ctx context.Context, res *registry.Resource, ns, name string, opts *metav1.DeleteOptions) (runtime.Object, error) {
	gr := res.GroupVersionResource().GroupResource()
	dryRun := len(opts.DryRun) > 0
	for attempt := 0; ; attempt++ {
		obj, rev, err := s.getObject(ctx, res, ns, name)
		if err != nil {
			return nil, err
		}
		if err := s.admitNodeRestriction(ctx, "DELETE", res, "", nil, obj); err != nil {
			return nil, err
		}
		m := accessor(obj)
		if p := opts.Preconditions; p != nil {
			if p.UID != nil && *p.UID != m.GetUID() {
				return nil, apierrors.NewConflict(gr, name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, m.GetUID()))
			}
			if p.ResourceVersion != nil && *p.ResourceVersion != m.GetResourceVersion() {
				return nil, apierrors.NewConflict(gr, name, fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, m.GetResourceVersion()))
			}
		}
		if res == s.namespaces && protectedNamespaces[name] {
			return nil, apierrors.NewForbidden(gr, name, errors.New("this namespace may not be deleted"))
		}
		if attempt == 0 {
			attrs := webhookAttributes(ctx, admission.Delete, res, "", nil, obj, opts, dryRun)
			if err := s.webhooks.Load().mutate(ctx, attrs); err != nil {
				return nil, err
			}
			if err := s.webhooks.Load().validate(ctx, attrs); err != nil {
				return nil, err
			}
		}
		pending, changed := s.markDeletion(res, obj, opts)
		if dryRun {
			return obj, nil
		}
		if pending {
			if !changed {
				return obj, nil
			}
			b, err := encodeObject(res, obj)
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			newRev, err := s.store.Update(ctx, objectKey(res, ns, name), b, rev)
			if errors.Is(err, store.ErrConflict) && attempt < 10 {
				continue
			}
			if err != nil {
				return nil, storeError(err, gr, name)
			}
			m.SetResourceVersion(fmt.Sprint(newRev))
			if res == s.namespaces {
				s.gc.namespaceClosed(name)
			}
			return obj, nil
		}
		_, err = s.store.Delete(ctx, objectKey(res, ns, name), rev)
		if errors.Is(err, store.ErrConflict) && attempt < 10 {
			continue
		}
		if err != nil {
			return nil, storeError(err, gr, name)
		}
		s.deleted(ctx, res, obj)
		return obj, nil
	}
}

// markDeletion decides whether the deletion must wait (graceful pod, finalizers, namespace) and
// sets deletionTimestamp and finalizers on obj accordingly. changed says obj was modified.
func (s *Server) markDeletion(res *registry.Resource, obj runtime.Object, opts *metav1.DeleteOptions) (pending, changed bool) {
	m := accessor(obj)
	now := s.now()
	if res == s.namespaces {
		n := obj.(*corev1.Namespace)
		if n.DeletionTimestamp == nil {
			t := metav1.NewTime(now)
			n.DeletionTimestamp = &t
			n.Status.Phase = corev1.NamespaceTerminating
			return true, true
		}
		// Already terminating: it goes once the namespace finalizer has emptied it.
		return len(m.GetFinalizers()) > 0 || s.held(res, obj), false
	}
	if res.GroupVersionResource() == crdGVR && s.crds.markDeletion(obj) {
		changed = true // the cleanup finalizer: the CRD's objects go first
	}
	// Propagation finalizers.
	switch propagation(opts) {
	case metav1.DeletePropagationForeground:
		changed = addFinalizer(m, finalizerForeground) || changed
	case metav1.DeletePropagationOrphan:
		changed = addFinalizer(m, finalizerOrphan) || changed
	}
	grace := s.gracePeriod(res, obj, opts)
	if m.GetDeletionTimestamp() != nil {
		// Already terminating: a shorter grace period brings the deadline forward.
		if cur := m.GetDeletionGracePeriodSeconds(); grace != nil && (cur == nil || *grace < *cur) {
			setDeletion(m, now, *grace)
			changed = true
		}
		return len(m.GetFinalizers()) > 0 || s.held(res, obj), changed
	}
	if grace != nil && *grace > 0 {
		setDeletion(m, now, *grace)
		return true, true
	}
	if len(m.GetFinalizers()) > 0 {
		setDeletion(m, now, 0)
		return true, true
	}
	return false, changed
}

// gracePeriod is the grace a pod bound to a node gets (nil for everything else): the request's
// gracePeriodSeconds, else spec.terminationGracePeriodSeconds, else 30 s. A pod never bound or
// already finished goes at once.
func (s *Server) gracePeriod(res *registry.Resource, obj runtime.Object, opts *metav1.DeleteOptions) *int64 {
	pod, ok := obj.(*corev1.Pod)
	if !ok || res.Group != "" || res.Resource != "pods" {
		return nil
	}
	zero := int64(0)
	if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return &zero
	}
	g := int64(30)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		g = *pod.Spec.TerminationGracePeriodSeconds
	}
	if opts.GracePeriodSeconds != nil {
		g = *opts.GracePeriodSeconds
		if g < 0 {
			g = 0
		}
	}
	return &g
}

// held reports whether a deleted object must stay although it has no finalizers: a pod whose
// graceful deletion the node agent still has to finish, or a namespace not yet emptied.
func (s *Server) held(res *registry.Resource, obj runtime.Object) bool {
	switch o := obj.(type) {
	case *corev1.Pod:
		g := o.DeletionGracePeriodSeconds
		return g != nil && *g > 0
	case *corev1.Namespace:
		return len(o.Spec.Finalizers) > 0
	}
	return false
}

// maxSeconds is the most seconds a time.Duration holds (about 292 years); longer timeouts and
// grace periods are capped to it rather than overflowing to negative durations.
const maxSeconds = int64(math.MaxInt64 / time.Second)

func setDeletion(m metav1.Object, now time.Time, grace int64) {
	t := metav1.NewTime(now.Add(time.Duration(min(grace, maxSeconds)) * time.Second))
	m.SetDeletionTimestamp(&t)
	m.SetDeletionGracePeriodSeconds(&grace)
}

func propagation(opts *metav1.DeleteOptions) metav1.DeletionPropagation {
	if opts.PropagationPolicy != nil {
		return *opts.PropagationPolicy
	}
	if opts.OrphanDependents != nil {
		if *opts.OrphanDependents {
			return metav1.DeletePropagationOrphan
		}
		return metav1.DeletePropagationBackground
	}
	return metav1.DeletePropagationBackground
}

func addFinalizer(m metav1.Object, f string) bool {
	for _, x := range m.GetFinalizers() {
		if x == f {
			return false
		}
	}
	m.SetFinalizers(append(m.GetFinalizers(), f))
	return true
}

func removeFinalizer(m metav1.Object, f string) bool {
	var out []string
	for _, x := range m.GetFinalizers() {
		if x != f {
			out = append(out, x)
		}
	}
	if len(out) == len(m.GetFinalizers()) {
		return false
	}
	m.SetFinalizers(out)
	return true
}
