package disruption

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/drover-ci/drover/cluster/controller"
)

// podChanged wakes the budget covering the pod, and schedules the reset of a stale
// DisruptionTarget condition.
func (c *Controller) podChanged(obj interface{}) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if pdb := c.pdbForPod(pod); pdb != nil {
		c.enqueue(pdb)
	}
	if stale, after := c.staleDisruptionCondition(pod); stale {
		if key, err := cache.MetaNamespaceKeyFunc(pod); err == nil {
			c.stalePods.AddAfter(key, after)
		}
	}
}

func (c *Controller) podDeleted(obj interface{}) {
	pod, ok := controller.DeletedPod(obj)
	if !ok {
		return
	}
	if pdb := c.pdbForPod(pod); pdb != nil {
		c.enqueue(pdb)
	}
}

// pdbForPod is the budget whose selector matches the pod; with several, the first, and a
// MultiplePodDisruptionBudgets warning on the pod (as Kubernetes).
func (c *Controller) pdbForPod(pod *corev1.Pod) *policyv1.PodDisruptionBudget {
	pdbs, err := c.pdbs.GetPodPodDisruptionBudgets(pod)
	if err != nil || len(pdbs) == 0 {
		return nil
	}
	if len(pdbs) > 1 {
		c.recorder.Eventf(pod, corev1.EventTypeWarning, "MultiplePodDisruptionBudgets",
			"Pod %q/%q matches multiple PodDisruptionBudgets.  Chose %q arbitrarily.", pod.Namespace, pod.Name, pdbs[0].Name)
	}
	return pdbs[0]
}

// staleDisruptionCondition reports whether the pod carries a DisruptionTarget=True condition
// though it is not being deleted (an eviction approved but not carried out), and how long until
// it counts as stale. Conditions the kubelet set and those of terminal pods are never stale.
func (c *Controller) staleDisruptionCondition(pod *corev1.Pod) (bool, time.Duration) {
	if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false, 0
	}
	for _, cond := range pod.Status.Conditions {
		if cond.Type != corev1.DisruptionTarget {
			continue
		}
		if cond.Status != corev1.ConditionTrue || cond.Reason == corev1.PodReasonTerminationByKubelet {
			return false, 0
		}
		return true, max(stalePodDisruptionTimeout-c.clock.Since(cond.LastTransitionTime.Time), 0)
	}
	return false, 0
}
