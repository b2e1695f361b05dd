package deployment

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
)

// rolloutRolling takes one step of a rolling update (Kubernetes' rolloutRolling): create the
// new ReplicaSet if need be, grow it within maxSurge, else shrink the old ones within
// maxUnavailable; once complete, clean up old revisions; then report status.
func (c *Controller) rolloutRolling(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) (time.Duration, error) {
	if newRS == nil {
		var err error
		if newRS, err = c.createNewReplicaSet(ctx, d, oldRSs); err != nil {
			return 0, err
		}
	}
	allRSs := append(append([]*appsv1.ReplicaSet(nil), oldRSs...), newRS)

	to, scale, err := planNewReplicaSet(d, allRSs, newRS)
	if err != nil {
		return 0, err
	}
	if scale {
		scaled, updated, err := c.scaleReplicaSetAndRecordEvent(ctx, newRS, to, d)
		if err != nil {
			return 0, err
		}
		if scaled {
			allRSs[len(allRSs)-1] = updated
			return c.syncRolloutStatus(ctx, allRSs, updated, d)
		}
	}

	plan := planOldScaleDown(d, activeReplicaSets(oldRSs), newRS)
	scaledDown := false
	for _, s := range plan {
		scaled, updated, err := c.scaleReplicaSetAndRecordEvent(ctx, s.rs, s.replicas, d)
		if err != nil {
			return 0, err
		}
		scaledDown = scaledDown || scaled
		for i := range allRSs {
			if allRSs[i].UID == updated.UID {
				allRSs[i] = updated
			}
		}
	}
	if scaledDown {
		return c.syncRolloutStatus(ctx, allRSs, newRS, d)
	}

	if complete(d, &d.Status) {
		if err := c.cleanup(ctx, d, oldRSs); err != nil {
			return 0, err
		}
	}
	return c.syncRolloutStatus(ctx, allRSs, newRS, d)
}
