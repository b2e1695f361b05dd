package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// MatchesNodeAffinity reports whether node satisfies the pod's spec.nodeSelector and its
// required node affinity (matchExpressions and matchFields on metadata.name), exactly as the
// scheduler's NodeAffinity filter decides. Controllers that choose nodes themselves (the
// DaemonSet controller) use it so that they never want a pod the scheduler will not place.
func MatchesNodeAffinity(pod *corev1.Pod, node *corev1.Node) bool {
	if len(pod.Spec.NodeSelector) > 0 && !labels.SelectorFromSet(pod.Spec.NodeSelector).Matches(labels.Set(node.Labels)) {
		return false
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return true
	}
	return compileNodeSelector(a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution).matches(node)
}

// EffectiveTaints is the node's taints as the scheduler filters with them: spec.taints, plus
// the taints Kubernetes' TaintNodesByCondition puts on a node and drover's scheduler assumes
// instead: node.kubernetes.io/unschedulable:NoSchedule for a cordoned node, and
// node.kubernetes.io/not-ready (Ready=False) or node.kubernetes.io/unreachable (Ready Unknown or
// missing):NoSchedule for a node that is not Ready. A taint already present is not repeated.
func EffectiveTaints(node *corev1.Node) []corev1.Taint {
	taints := append([]corev1.Taint(nil), node.Spec.Taints...)
	add := func(key string) {
		for _, t := range taints {
			if t.Key == key && t.Effect == corev1.TaintEffectNoSchedule {
				return
			}
		}
		taints = append(taints, corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule})
	}
	if node.Spec.Unschedulable {
		add(corev1.TaintNodeUnschedulable)
	}
	switch readyStatus(node) {
	case corev1.ConditionTrue:
	case corev1.ConditionFalse:
		add(corev1.TaintNodeNotReady)
	default:
		add(corev1.TaintNodeUnreachable)
	}
	return taints
}

// UntoleratedTaint returns the first of taints whose effect is one of effects and which none of
// the pod's tolerations tolerates, or nil.
func UntoleratedTaint(pod *corev1.Pod, taints []corev1.Taint, effects ...corev1.TaintEffect) *corev1.Taint {
	for i := range taints {
		t := &taints[i]
		for _, e := range effects {
			if t.Effect == e && !tolerates(pod, t) {
				return t
			}
		}
	}
	return nil
}
