package daemonset

import (
	"context"
	"fmt"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// calculateStatus counts, node by node, what Kubernetes' updateDaemonSetStatus counts: nodes
// that should run a pod (desired), those that have one (current), those that have one but should
// not (misscheduled), and of the oldest pod on each desired node whether it is ready, available
// and of the current revision.
func (c *Controller) calculateStatus(ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string) appsv1.DaemonSetStatus {
	st := ds.Status
	var desired, current, misscheduled, ready, updated, available int32
	now := c.clock.Now()
	for _, n := range nodes {
		run, _ := shouldRun(n, ds)
		pods := byNode[n.Name]
		scheduled := len(pods) > 0
		if !run {
			if scheduled {
				misscheduled++
			}
			continue
		}
		desired++
		if !scheduled {
			continue
		}
		current++
		sorted := append([]*corev1.Pod(nil), pods...)
		sort.Sort(byCreation(sorted))
		pod := sorted[0]
		if podReady(pod) {
			ready++
			if podAvailable(pod, ds.Spec.MinReadySeconds, now) {
				available++
			}
		}
		if podUpdated(ds, pod, hash) {
			updated++
		}
	}
	st.DesiredNumberScheduled, st.CurrentNumberScheduled, st.NumberMisscheduled = desired, current, misscheduled
	st.NumberReady, st.UpdatedNumberScheduled, st.NumberAvailable = ready, updated, available
	st.NumberUnavailable = desired - available
	return st
}

// updateStatus writes the DaemonSet's status unless it is already current; observedGeneration
// is raised only when this sync acted on the generation (updateObservedGen).
func (c *Controller) updateStatus(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, hash string, updateObservedGen bool) error {
	byNode, err := c.nodeToDaemonPods(ctx, ds, false)
	if err != nil {
		return fmt.Errorf("couldn't get node to daemon pod mapping for daemon set %q: %w", ds.Name, err)
	}
	st := c.calculateStatus(ds, nodes, byNode, hash)
	if err := c.storeStatus(ctx, ds, st, updateObservedGen); err != nil {
		return fmt.Errorf("error storing status for daemon set %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	if ds.Spec.MinReadySeconds > 0 && st.NumberReady != st.NumberAvailable {
		c.enqueueAfter(ds, time.Duration(ds.Spec.MinReadySeconds)*time.Second)
	}
	return nil
}

func sameCounts(a, b appsv1.DaemonSetStatus) bool {
	return a.DesiredNumberScheduled == b.DesiredNumberScheduled && a.CurrentNumberScheduled == b.CurrentNumberScheduled &&
		a.NumberMisscheduled == b.NumberMisscheduled && a.NumberReady == b.NumberReady &&
		a.UpdatedNumberScheduled == b.UpdatedNumberScheduled && a.NumberAvailable == b.NumberAvailable &&
		a.NumberUnavailable == b.NumberUnavailable
}

// storeStatus is Kubernetes' storeDaemonSetStatus: a conflict retries on a fresh read.
func (c *Controller) storeStatus(ctx context.Context, ds *appsv1.DaemonSet, st appsv1.DaemonSetStatus, updateObservedGen bool) error {
	if sameCounts(ds.Status, st) && ds.Status.ObservedGeneration >= ds.Generation {
		return nil
	}
	client := c.client.AppsV1().DaemonSets(ds.Namespace)
	next := ds.DeepCopy()
	for i := 0; ; i++ {
		gen := next.Status.ObservedGeneration
		if updateObservedGen {
			gen = ds.Generation
		}
		counts := st
		counts.ObservedGeneration, counts.CollisionCount, counts.Conditions = gen, next.Status.CollisionCount, next.Status.Conditions
		next.Status = counts
		_, err := client.UpdateStatus(ctx, next, metav1.UpdateOptions{})
		if err == nil || i >= StatusUpdateRetries {
			return err
		}
		if next, err = client.Get(ctx, ds.Name, metav1.GetOptions{}); err != nil {
			return err
		}
	}
}
