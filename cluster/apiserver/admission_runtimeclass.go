package apiserver

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var runtimeClassGVR = schema.GroupVersionResource{Group: "node.k8s.io", Version: "v1", Resource: "runtimeclasses"}

// admitRuntimeClass is Kubernetes' RuntimeClass admission for a new pod: the named RuntimeClass
// must exist ("pod rejected: RuntimeClass "x" not found"); its overhead becomes the pod's
// spec.overhead (a different overhead the pod gives is refused, as is an overhead without a
// RuntimeClass that defines one); its scheduling node selector is merged into the pod's (a
// conflicting value is refused) and its tolerations merged with the pod's.
func (s *Server) admitRuntimeClass(ctx context.Context, pod *corev1.Pod) error {
	forbidden := func(err error) error {
		return apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, pod.Name, err)
	}
	var rc *nodev1.RuntimeClass
	if name := pod.Spec.RuntimeClassName; name != nil {
		var err error
		if rc, err = s.runtimeClass(ctx, *name); err != nil {
			if apierrors.IsNotFound(err) {
				return forbidden(fmt.Errorf("pod rejected: RuntimeClass %q not found", *name))
			}
			return err
		}
	}
	if rc == nil || rc.Overhead == nil {
		if pod.Spec.Overhead != nil {
			return forbidden(errors.New("pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead"))
		}
	} else {
		if len(pod.Spec.Overhead) > 0 && !apiequality.Semantic.DeepEqual(rc.Overhead.PodFixed, pod.Spec.Overhead) {
			return forbidden(errors.New("pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead"))
		}
		pod.Spec.Overhead = rc.Overhead.PodFixed.DeepCopy()
	}
	if rc == nil || rc.Scheduling == nil {
		return nil
	}
	sel := pod.Spec.NodeSelector
	if sel == nil {
		sel = map[string]string{}
	}
	for k, v := range rc.Scheduling.NodeSelector {
		if pv, ok := sel[k]; ok && pv != v {
			return forbidden(fmt.Errorf("conflict: runtimeClass.scheduling.nodeSelector[%s] = %s; pod.spec.nodeSelector[%s] = %s", k, v, k, pv))
		}
		sel[k] = v
	}
	if len(sel) > 0 {
		pod.Spec.NodeSelector = sel
	}
	pod.Spec.Tolerations = mergeTolerations(pod.Spec.Tolerations, rc.Scheduling.Tolerations)
	return nil
}

// runtimeClass reads a RuntimeClass (NotFound when the server does not serve them).
func (s *Server) runtimeClass(ctx context.Context, name string) (*nodev1.RuntimeClass, error) {
	res, ok := s.resources.Lookup(runtimeClassGVR)
	if !ok {
		return nil, apierrors.NewNotFound(runtimeClassGVR.GroupResource(), name)
	}
	obj, _, err := s.getObject(ctx, res, "", name)
	if err != nil {
		return nil, err
	}
	return obj.(*nodev1.RuntimeClass), nil
}

// mergeTolerations is Kubernetes' tolerations.MergeTolerations: the union, where a toleration
// another one tolerates a superset of is dropped.
func mergeTolerations(first, second []corev1.Toleration) []corev1.Toleration {
	all := append(append([]corev1.Toleration(nil), first...), second...)
	var merged []corev1.Toleration
next:
	for i, t := range all {
		for _, m := range merged {
			if tolerationSuperset(m, t) {
				continue next
			}
		}
		for _, t2 := range all[i+1:] {
			if !apiequality.Semantic.DeepEqual(t, t2) && tolerationSuperset(t2, t) {
				continue next
			}
		}
		merged = append(merged, t)
	}
	return merged
}

// tolerationSuperset reports whether ss tolerates everything t does.
func tolerationSuperset(ss, t corev1.Toleration) bool {
	if apiequality.Semantic.DeepEqual(t, ss) {
		return true
	}
	if t.Key != ss.Key && (ss.Key != "" || ss.Operator != corev1.TolerationOpExists) {
		return false
	}
	if t.Effect != ss.Effect && ss.Effect != "" {
		return false
	}
	if ss.Effect == corev1.TaintEffectNoExecute && ss.TolerationSeconds != nil &&
		(t.TolerationSeconds == nil || *t.TolerationSeconds > *ss.TolerationSeconds) {
		return false
	}
	switch ss.Operator {
	case corev1.TolerationOpEqual, "":
		return t.Operator == corev1.TolerationOpEqual || t.Operator == "" && t.Value == ss.Value
	case corev1.TolerationOpExists:
		return true
	}
	return false
}
