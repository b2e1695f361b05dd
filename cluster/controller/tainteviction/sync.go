package tainteviction

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// Reason and message of the DisruptionTarget condition an evicted pod gets (Kubernetes').
const (
	ReasonDeletionByTaintManager = "DeletionByTaintManager"
	disruptionMessage            = "Taint manager: deleting due to NoExecute taint"
)

// sync decides for one pod: nothing, evict now, or look again when its toleration ends.
func (c *Controller) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	pod, err := c.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.forget(key)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if pod.Spec.NodeName == "" || pod.DeletionTimestamp != nil {
		c.forget(key)
		return 0, nil
	}
	node, err := c.nodes.Get(pod.Spec.NodeName)
	if apierrors.IsNotFound(err) {
		c.forget(key)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	all, wait := Tolerated(NoExecuteTaints(node), pod.Spec.Tolerations)
	now := c.clock.Now()
	switch {
	case all && wait < 0: // no taints, or every one tolerated for ever
		c.forget(key)
		return 0, nil
	case all:
		due := c.start(key, now).Add(wait)
		if now.Before(due) {
			return due.Sub(now), nil
		}
	}
	return 0, c.evict(ctx, pod)
}

func (c *Controller) start(key string, now time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.since[key]; ok {
		return t
	}
	c.since[key] = now
	return now
}

func (c *Controller) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.since, key)
}

// evict marks the pod with the DisruptionTarget condition and deletes it.
func (c *Controller) evict(ctx context.Context, pod *corev1.Pod) error {
	key := pod.Namespace + "/" + pod.Name
	c.recorder.Eventf(pod, corev1.EventTypeNormal, "TaintManagerEviction", "Marking for deletion Pod %s", key)
	if !hasDisruptionTarget(pod) {
		next := pod.DeepCopy()
		next.Status.Conditions = append(next.Status.Conditions, corev1.PodCondition{Type: corev1.DisruptionTarget,
			Status: corev1.ConditionTrue, Reason: ReasonDeletionByTaintManager, Message: disruptionMessage,
			LastTransitionTime: metav1.NewTime(c.clock.Now())})
		if _, err := c.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("mark pod %s disrupted: %w", key, err)
		}
	}
	err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("evict pod %s: %w", key, err)
	}
	c.forget(key)
	c.log.Info("evicted pod for a NoExecute taint", "pod", key, "node", pod.Spec.NodeName)
	return nil
}

func hasDisruptionTarget(pod *corev1.Pod) bool {
	for _, cond := range pod.Status.Conditions {
		if cond.Type == corev1.DisruptionTarget && cond.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// NoExecuteTaints are the node's NoExecute taints this controller acts on: all but the node
// lifecycle's unreachable and not-ready taints.
func NoExecuteTaints(node *corev1.Node) []corev1.Taint {
	var out []corev1.Taint
	for _, t := range node.Spec.Taints {
		if t.Effect != corev1.TaintEffectNoExecute || t.Key == corev1.TaintNodeUnreachable || t.Key == corev1.TaintNodeNotReady {
			continue
		}
		out = append(out, t)
	}
	return out
}

// Tolerated is Kubernetes' GetMatchingTolerations and getMinTolerationTime: whether every
// taint is tolerated (each by the first toleration that matches it), and then for how long at
// least (negative: for ever; tolerationSeconds ≤ 0 tolerates for no time).
func Tolerated(taints []corev1.Taint, tolerations []corev1.Toleration) (bool, time.Duration) {
	wait := time.Duration(-1)
	for i := range taints {
		var used *corev1.Toleration
		for j := range tolerations {
			if tolerations[j].ToleratesTaint(&taints[i]) {
				used = &tolerations[j]
				break
			}
		}
		if used == nil {
			return false, 0
		}
		if used.TolerationSeconds == nil {
			continue
		}
		d := time.Duration(max(*used.TolerationSeconds, 0)) * time.Second
		if wait < 0 || d < wait {
			wait = d
		}
	}
	return true, wait
}
