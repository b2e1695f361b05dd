package disruption

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// syncStalePodDisruption sets a pod's stale DisruptionTarget condition to False: an eviction
// marked the pod but its deletion did not follow within stalePodDisruptionTimeout.
func (c *Controller) syncStalePodDisruption(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	pod, err := c.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	stale, after := c.staleDisruptionCondition(pod)
	if !stale {
		return 0, nil
	}
	if after > 0 {
		return after, nil
	}
	next := pod.DeepCopy()
	for i := range next.Status.Conditions {
		cond := &next.Status.Conditions[i]
		if cond.Type == corev1.DisruptionTarget {
			cond.Status, cond.LastTransitionTime = corev1.ConditionFalse, metav1.NewTime(c.clock.Now())
			cond.Reason, cond.Message = "", ""
		}
	}
	if _, err := c.client.CoreV1().Pods(ns).UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil {
		return 0, err
	}
	c.log.Info("reset stale DisruptionTarget condition to False", "pod", key)
	return 0, nil
}
