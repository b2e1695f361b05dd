package deployment

import (
	"math"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The pure decisions of a rollout: given the Deployment and its ReplicaSets as the caches show
// them, the sizes the ReplicaSets should get. The controller then applies them in order.

// scaleTo is one ReplicaSet's new size.
type scaleTo struct {
	rs       *appsv1.ReplicaSet
	replicas int32
}

// newRSNewReplicas is the size the new ReplicaSet may grow to now (Kubernetes'
// NewRSNewReplicas): for RollingUpdate up to replicas + maxSurge pods across all ReplicaSets,
// never above replicas; for Recreate the full replicas.
func newRSNewReplicas(d *appsv1.Deployment, allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) (int32, error) {
	if !isRollingUpdate(d) {
		return replicas(d), nil
	}
	s, _ := rollingParams(d)
	surge, err := intstr.GetScaledValueFromIntOrPercent(intstr.ValueOrDefault(s, intstr.FromInt32(0)), int(replicas(d)), true)
	if err != nil {
		return 0, err
	}
	current, _, _, _ := sumReplicas(allRSs)
	maxTotal := replicas(d) + int32(surge)
	if current >= maxTotal {
		return rsReplicas(newRS), nil
	}
	up := min(maxTotal-current, replicas(d)-rsReplicas(newRS))
	return rsReplicas(newRS) + up, nil
}

// planNewReplicaSet is the new ReplicaSet's next size in a rolling update, and whether it
// changes (Kubernetes' reconcileNewReplicaSet).
func planNewReplicaSet(d *appsv1.Deployment, allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) (int32, bool, error) {
	cur := rsReplicas(newRS)
	switch {
	case cur == replicas(d):
		return cur, false, nil
	case cur > replicas(d):
		return replicas(d), true, nil
	}
	n, err := newRSNewReplicas(d, allRSs, newRS)
	return n, err == nil && n != cur, err
}

// planOldScaleDown is how a rolling update shrinks its old ReplicaSets (Kubernetes'
// reconcileOldReplicaSets): first the unavailable pods of old ReplicaSets, oldest first, as
// far as that does not take the Deployment below its minimum availability counting the new
// ReplicaSet's unavailable pods; then available old pods while more than replicas -
// maxUnavailable pods are available (a ReplicaSet's available pods counted up to its
// replicas). oldRSs are the active old ReplicaSets; the result is in the order to apply, at
// most one entry per ReplicaSet.
func planOldScaleDown(d *appsv1.Deployment, oldRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) []scaleTo {
	oldCount, _, _, _ := sumReplicas(oldRSs)
	if oldCount == 0 {
		return nil
	}
	allCount := oldCount + rsReplicas(newRS)
	minAvail := replicas(d) - maxUnavailable(d)
	newUnavailable := rsReplicas(newRS) - availableWithin(newRS)
	maxScaledDown := allCount - minAvail - newUnavailable
	if maxScaledDown <= 0 {
		return nil
	}
	olds := make([]*appsv1.ReplicaSet, len(oldRSs))
	copy(olds, oldRSs)
	sortByCreation(olds)
	size := map[*appsv1.ReplicaSet]int32{}
	for _, rs := range olds {
		size[rs] = rsReplicas(rs)
	}
	// Unhealthy replicas first: deleting them does not lower availability.
	var cleaned int32
	for _, rs := range olds {
		if cleaned >= maxScaledDown {
			break
		}
		if size[rs] == 0 || size[rs] == rs.Status.AvailableReplicas {
			continue
		}
		n := min(maxScaledDown-cleaned, size[rs]-rs.Status.AvailableReplicas)
		if n <= 0 {
			continue // more available than wanted: nothing unhealthy to take
		}
		size[rs] -= n
		cleaned += n
	}
	// Then available ones, as far as maxUnavailable allows. A ReplicaSet counts at most its
	// replicas as available: its status can still count pods its controller is deleting (the
	// status of the sync that deleted them), and counting those would take more than
	// maxUnavailable away. (Kubernetes sums status.availableReplicas as it is.)
	available := availableWithin(newRS)
	for _, rs := range olds {
		available += availableWithin(rs)
	}
	if available > minAvail {
		want := available - minAvail
		var done int32
		for _, rs := range olds {
			if done >= want {
				break
			}
			if size[rs] == 0 {
				continue
			}
			n := min(size[rs], want-done)
			size[rs] -= n
			done += n
		}
	}
	var out []scaleTo
	for _, rs := range olds {
		if size[rs] != rsReplicas(rs) {
			out = append(out, scaleTo{rs: rs, replicas: size[rs]})
		}
	}
	return out
}

// availableWithin is rs's available pods, at most its replicas.
func availableWithin(rs *appsv1.ReplicaSet) int32 {
	return min(rs.Status.AvailableReplicas, rsReplicas(rs))
}

// planProportionalScale spreads a change of the Deployment's replicas over its active
// ReplicaSets in proportion to their sizes (Kubernetes' scale for a rolling Deployment whose
// new ReplicaSet is not saturated): each gets round(size * (replicas+maxSurge) /
// max-replicas annotation) - size, bounded by what is left to add or remove; the leftover goes
// to the largest. The direction names the ScalingReplicaSet events ("up", "down" or "").
func planProportionalScale(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) ([]scaleTo, string) {
	all := activeReplicaSets(append(append([]*appsv1.ReplicaSet(nil), oldRSs...), newRS))
	total, _, _, _ := sumReplicas(all)
	var allowed int32
	if replicas(d) > 0 {
		allowed = replicas(d) + maxSurge(d)
	}
	toAdd := allowed - total
	op := ""
	switch {
	case toAdd > 0:
		sortBySizeNewer(all)
		op = "up"
	case toAdd < 0:
		sortBySizeOlder(all)
		op = "down"
	}
	sizes := make([]int32, len(all))
	var added int32
	for i, rs := range all {
		sizes[i] = rsReplicas(rs)
		if toAdd != 0 {
			p := proportion(rs, d, toAdd, added)
			sizes[i] += p
			added += p
		}
	}
	out := make([]scaleTo, len(all))
	for i, rs := range all {
		if i == 0 && toAdd != 0 {
			sizes[i] = max(sizes[i]+toAdd-added, 0)
		}
		out[i] = scaleTo{rs: rs, replicas: sizes[i]}
	}
	return out, op
}

// proportion is rs's share of toAdd (Kubernetes' GetReplicaSetProportion).
func proportion(rs *appsv1.ReplicaSet, d *appsv1.Deployment, toAdd, added int32) int32 {
	if rs == nil || rsReplicas(rs) == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	frac := fraction(rs, d)
	allowed := toAdd - added
	if toAdd > 0 {
		return min(frac, allowed)
	}
	return max(frac, allowed)
}

// fraction is how much rs would grow (or shrink) were it scaled from the size the Deployment
// had (its max-replicas annotation, else the Deployment's status replicas) to replicas +
// maxSurge; the whole of it when the Deployment goes to 0.
func fraction(rs *appsv1.ReplicaSet, d *appsv1.Deployment) int32 {
	if replicas(d) == 0 {
		return -rsReplicas(rs)
	}
	target := replicas(d) + maxSurge(d)
	annotated, ok := intAnnotation(rs, MaxReplicasAnnotation)
	if !ok || annotated == 0 {
		annotated = d.Status.Replicas
	}
	if annotated == 0 {
		return 0
	}
	size := float64(rsReplicas(rs)*target) / float64(annotated)
	return int32(math.Round(size)) - rsReplicas(rs)
}

// findActiveOrLatest is the only active ReplicaSet, or the newest one when none is active,
// or nil when several are active (then scaling is proportional).
func findActiveOrLatest(newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	if newRS == nil && len(oldRSs) == 0 {
		return nil
	}
	olds := append([]*appsv1.ReplicaSet(nil), oldRSs...)
	sortByCreation(olds)
	// newest first
	for i, j := 0, len(olds)-1; i < j; i, j = i+1, j-1 {
		olds[i], olds[j] = olds[j], olds[i]
	}
	active := activeReplicaSets(append(olds, newRS))
	switch len(active) {
	case 0:
		if newRS != nil {
			return newRS
		}
		return olds[0]
	case 1:
		return active[0]
	}
	return nil
}

// isSaturated: the new ReplicaSet has, wants and makes available all the Deployment's replicas.
func isSaturated(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	if rs == nil {
		return false
	}
	desired, ok := intAnnotation(rs, DesiredReplicasAnnotation)
	return ok && rsReplicas(rs) == replicas(d) && desired == replicas(d) && rs.Status.AvailableReplicas == replicas(d)
}

// isScalingEvent: an active ReplicaSet was last sized for other replicas than the
// Deployment's (its desired-replicas annotation differs).
func isScalingEvent(d *appsv1.Deployment, allRSs []*appsv1.ReplicaSet) bool {
	for _, rs := range activeReplicaSets(allRSs) {
		if desired, ok := intAnnotation(rs, DesiredReplicasAnnotation); ok && desired != replicas(d) {
			return true
		}
	}
	return false
}

// cleanupVictims are the old ReplicaSets beyond revisionHistoryLimit that may be deleted:
// lowest revisions first, only those scaled to 0 with no pods, their spec observed, not
// already being deleted (Kubernetes' cleanupDeployment).
func cleanupVictims(d *appsv1.Deployment, oldRSs []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	if !hasRevisionHistoryLimit(d) {
		return nil
	}
	var alive []*appsv1.ReplicaSet
	for _, rs := range oldRSs {
		if rs != nil && rs.DeletionTimestamp == nil {
			alive = append(alive, rs)
		}
	}
	diff := int32(len(alive)) - *d.Spec.RevisionHistoryLimit
	if diff <= 0 {
		return nil
	}
	sortByRevision(alive)
	var out []*appsv1.ReplicaSet
	for _, rs := range alive[:diff] {
		if rs.Status.Replicas != 0 || rsReplicas(rs) != 0 || rs.Generation > rs.Status.ObservedGeneration {
			continue
		}
		out = append(out, rs)
	}
	return out
}
