package deployment

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// rolloutRecreate takes one step of a Recreate rollout (Kubernetes' rolloutRecreate): scale
// every old ReplicaSet to 0, wait until none of their pods runs, then create the new
// ReplicaSet at full size; once complete, clean up old revisions; then report status.
func (c *Controller) rolloutRecreate(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, oldRSs, rss []*appsv1.ReplicaSet) (time.Duration, error) {
	allRSs := append(append([]*appsv1.ReplicaSet(nil), oldRSs...), newRS)
	scaledDown := false
	for i, rs := range oldRSs {
		if rsReplicas(rs) == 0 {
			continue
		}
		scaled, updated, err := c.scaleReplicaSetAndRecordEvent(ctx, rs, 0, d)
		if err != nil {
			return 0, err
		}
		if scaled {
			allRSs[i] = updated
			scaledDown = true
		}
	}
	if scaledDown {
		return c.syncRolloutStatus(ctx, allRSs, newRS, d)
	}
	podMap, err := c.podsByReplicaSet(d, rss)
	if err != nil {
		return 0, err
	}
	if oldPodsRunning(newRS, oldRSs, podMap) {
		return c.syncRolloutStatus(ctx, allRSs, newRS, d)
	}
	if newRS == nil {
		if newRS, err = c.createNewReplicaSet(ctx, d, oldRSs); err != nil {
			return 0, err
		}
		allRSs[len(allRSs)-1] = newRS
	}
	_, newRS, err = c.scaleReplicaSetAndRecordEvent(ctx, newRS, replicas(d), d)
	if err != nil {
		return 0, err
	}
	allRSs[len(allRSs)-1] = newRS
	if complete(d, &d.Status) {
		if err := c.cleanup(ctx, d, oldRSs); err != nil {
			return 0, err
		}
	}
	return c.syncRolloutStatus(ctx, allRSs, newRS, d)
}

// oldPodsRunning: an old ReplicaSet still reports pods, or a pod of one is not terminal.
func oldPodsRunning(newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet, podMap map[types.UID][]*corev1.Pod) bool {
	if _, actual, _, _ := sumReplicas(oldRSs); actual > 0 {
		return true
	}
	for uid, pods := range podMap {
		if newRS != nil && newRS.UID == uid {
			continue
		}
		for _, p := range pods {
			if p.Status.Phase != corev1.PodFailed && p.Status.Phase != corev1.PodSucceeded {
				return true
			}
		}
	}
	return false
}
