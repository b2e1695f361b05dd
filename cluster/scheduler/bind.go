package scheduler

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// scheduleNext places the next queued pod; false when the queue is shut down.
func (c *Controller) scheduleNext(ctx context.Context) bool {
	k, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(k)
	c.scheduleOne(ctx, k)
	return true
}

func (c *Controller) scheduleOne(ctx context.Context, k string) {
	pod := c.pending(k)
	if pod == nil {
		c.parked.remove(k)
		c.queue.Forget(k)
		return
	}
	gen := c.parked.generation()
	node, err, skipped := c.cache.scheduleAndAssume(pod)
	switch {
	case skipped:
	case err == nil:
		c.queue.Forget(k)
		c.submit(ctx, func(ctx context.Context) { c.bind(ctx, pod, node) })
	case IsUnschedulable(err):
		c.queue.Forget(k)
		c.parked.park(k, gen)
		c.submit(ctx, func(ctx context.Context) { c.reportUnschedulable(ctx, pod, err) })
	default:
		c.log.Warn("cannot place pod", "pod", k, "err", err)
		c.queue.AddRateLimited(k)
	}
}

// pending returns the pod of key if it still waits for this scheduler.
func (c *Controller) pending(k string) *corev1.Pod {
	ns, name := splitKey(k)
	pod, err := c.pods.Pods(ns).Get(name)
	if err != nil || !responsible(pod) {
		return nil
	}
	return pod
}

func splitKey(k string) (ns, name string) {
	for i := 0; i < len(k); i++ {
		if k[i] == '/' {
			return k[:i], k[i+1:]
		}
	}
	return "", k
}

// bind posts the pod's binding; on failure the assumption is dropped and the pod tried again
// (unless it is gone or was bound or deleted meanwhile: the informer will say so).
func (c *Controller) bind(ctx context.Context, pod *corev1.Pod, node string) {
	b := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}
	err := c.client.CoreV1().Pods(pod.Namespace).Bind(ctx, b, metav1.CreateOptions{})
	if err != nil {
		c.cache.forget(pod)
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) || ctx.Err() != nil {
			return
		}
		c.log.Warn("binding failed", "pod", key(pod), "node", node, "err", err)
		c.queue.AddRateLimited(key(pod))
		return
	}
	c.cache.finishBinding(pod, c.clock.Now())
	c.recorder.Eventf(pod, corev1.EventTypeNormal, "Scheduled", "Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node)
}

// reportUnschedulable records a FailedScheduling event and sets PodScheduled=False
// (reason Unschedulable, the FitError's message) unless the pod says so already.
func (c *Controller) reportUnschedulable(ctx context.Context, pod *corev1.Pod, cause error) {
	msg := cause.Error()
	c.recorder.Event(pod, corev1.EventTypeWarning, "FailedScheduling", msg)
	cur := pod
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if cur == nil {
			fresh, err := c.client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			cur = fresh
		}
		if cur.UID != pod.UID || !responsible(cur) || hasUnschedulable(cur, msg) {
			return nil
		}
		upd := cur.DeepCopy()
		setUnschedulable(upd, msg, metav1.NewTime(c.clock.Now()))
		cur = nil
		_, err := c.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{})
		return err
	})
	if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
		c.log.Warn("cannot update pod status", "pod", key(pod), "err", err)
	}
}

func hasUnschedulable(pod *corev1.Pod, msg string) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			return c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable && c.Message == msg
		}
	}
	return false
}

func setUnschedulable(pod *corev1.Pod, msg string, now metav1.Time) {
	cond := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
		Reason: corev1.PodReasonUnschedulable, Message: msg, LastProbeTime: now, LastTransitionTime: now}
	for i := range pod.Status.Conditions {
		c := &pod.Status.Conditions[i]
		if c.Type != corev1.PodScheduled {
			continue
		}
		if c.Status == corev1.ConditionFalse {
			cond.LastTransitionTime = c.LastTransitionTime
		}
		*c = cond
		return
	}
	pod.Status.Conditions = append(pod.Status.Conditions, cond)
}
