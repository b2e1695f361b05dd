package statefulset

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// maxBatch caps the parallel pod operations of one step in Parallel mode.
const maxBatch = 500

// update brings set's pods in line with its spec and writes its status (Kubernetes'
// UpdateStatefulSet): revisions, then pods, then history truncation. It returns the status
// written.
func (c *Controller) update(ctx context.Context, set *appsv1.StatefulSet, pods []*corev1.Pod) (*appsv1.StatefulSetStatus, error) {
	set = set.DeepCopy()
	revisions, err := c.listRevisions(set)
	if err != nil {
		return nil, err
	}
	sortRevisions(revisions)
	current, update, collisionCount, err := c.revisionsOf(ctx, set, revisions)
	if err != nil {
		return nil, err
	}
	status, err := c.updatePods(ctx, set, current, update, collisionCount, pods)
	if status != nil {
		if serr := c.writeStatus(ctx, set, status); serr != nil {
			err = errors.Join(err, serr)
		}
	}
	podRevisions := make([]string, 0, len(pods))
	for _, p := range pods {
		podRevisions = append(podRevisions, podRevision(p))
	}
	if terr := c.truncateHistory(ctx, set, podRevisions, revisions, current, update); terr != nil {
		err = errors.Join(err, terr)
	}
	return status, err
}

// ordinals splits pods into the replicas in the ordinal range (indexed by ordinal - start; nil
// where a pod is missing) and the condemned ones beyond it, highest ordinal first. Pods
// without an ordinal are left out.
func ordinals(set *appsv1.StatefulSet, pods []*corev1.Pod) (replicas, condemned []*corev1.Pod) {
	replicas = make([]*corev1.Pod, replicasOf(set))
	start := startOrdinal(set)
	for _, p := range pods {
		switch o := ordinalOf(p); {
		case podInOrdinalRange(p, set):
			replicas[o-start] = p
		case o >= 0:
			condemned = append(condemned, p)
		}
	}
	sort.SliceStable(condemned, func(i, j int) bool { return ordinalOf(condemned[i]) > ordinalOf(condemned[j]) })
	return replicas, condemned
}

// computeStatus counts pods into status (Kubernetes' updateStatus): replicas are the created
// pods, ready the running and ready ones, available those ready for minReadySeconds, current
// and updated the created, not terminating pods at each revision.
func computeStatus(status *appsv1.StatefulSetStatus, minReadySeconds int32, now time.Time, current, update string, lists ...[]*corev1.Pod) {
	status.Replicas, status.ReadyReplicas, status.AvailableReplicas = 0, 0, 0
	status.CurrentReplicas, status.UpdatedReplicas = 0, 0
	for _, list := range lists {
		for _, p := range list {
			if p == nil || !isCreated(p) {
				continue
			}
			status.Replicas++
			if isRunningAndReady(p) {
				status.ReadyReplicas++
				if isRunningAndAvailable(p, minReadySeconds, now) {
					status.AvailableReplicas++
				}
			}
			if !isTerminating(p) {
				if podRevision(p) == current {
					status.CurrentReplicas++
				}
				if podRevision(p) == update {
					status.UpdatedReplicas++
				}
			}
		}
	}
}

// updatePods creates, fixes and deletes set's pods for one sync (Kubernetes' updateStatefulSet):
// OrderedReady goes one pod at a time and waits for each to be running, ready and available;
// Parallel acts on all at once. Scale-down removes the highest ordinal first; a rolling update
// deletes the highest ordinal not at the update revision, down to the partition.
func (c *Controller) updatePods(ctx context.Context, set *appsv1.StatefulSet, currentRev, updateRev *appsv1.ControllerRevision,
	collisionCount int32, pods []*corev1.Pod) (*appsv1.StatefulSetStatus, error) {
	currentSet, err := applyRevision(set, currentRev)
	if err != nil {
		return nil, err
	}
	updateSet, err := applyRevision(set, updateRev)
	if err != nil {
		return nil, err
	}
	now := c.clock.Now()
	minReady := set.Spec.MinReadySeconds
	cc := collisionCount
	status := &appsv1.StatefulSetStatus{ObservedGeneration: set.Generation, CurrentRevision: currentRev.Name,
		UpdateRevision: updateRev.Name, CollisionCount: &cc}
	computeStatus(status, minReady, now, currentRev.Name, updateRev.Name, pods)

	replicas, condemned := ordinals(set, pods)
	start := startOrdinal(set)
	for i := range replicas {
		if replicas[i] == nil {
			replicas[i] = newVersionedPod(currentSet, updateSet, currentRev.Name, updateRev.Name, start+i)
		}
	}
	var firstUnavailable *corev1.Pod
	for _, p := range replicas {
		if isUnavailable(p, minReady, now) {
			firstUnavailable = p
			break
		}
	}
	if firstUnavailable == nil {
		for i := len(condemned) - 1; i >= 0; i-- {
			if isUnavailable(condemned[i], minReady, now) {
				firstUnavailable = condemned[i]
				break
			}
		}
	}
	if set.DeletionTimestamp != nil {
		return status, nil
	}
	monotonic := !allowsBurst(set)
	recount := func() { computeStatus(status, minReady, now, currentRev.Name, updateRev.Name, replicas, condemned) }

	if exit, err := runForAll(len(replicas), monotonic, func(i int) (bool, error) {
		return c.processReplica(ctx, set, updateSet, monotonic, replicas, i, now)
	}); exit || err != nil {
		recount()
		return status, err
	}
	if exit, err := runForAll(len(condemned), monotonic, func(i int) (bool, error) {
		if ok, err := c.pods.claimsMatchRetention(updateSet, condemned[i]); err != nil {
			return true, err
		} else if !ok {
			return true, c.pods.updateClaimsForRetention(ctx, updateSet, condemned[i])
		}
		return false, nil
	}); exit || err != nil {
		recount()
		return status, err
	}
	if exit, err := runForAll(len(condemned), monotonic, func(i int) (bool, error) {
		return c.processCondemned(ctx, set, firstUnavailable, monotonic, condemned, i, now)
	}); exit || err != nil {
		recount()
		return status, err
	}
	recount()
	if set.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return status, nil
	}
	// Rolling update: delete the highest ordinal not at the update revision, down to the
	// partition, waiting for each replaced pod to be available again.
	for target := len(replicas) - 1; target >= partitionOf(set); target-- {
		p := replicas[target]
		if podRevision(p) != updateRev.Name && !isTerminating(p) {
			if err := c.pods.deletePod(ctx, set, p); err != nil && !apierrors.IsNotFound(err) {
				return status, err
			}
			status.CurrentReplicas--
			return status, nil
		}
		if isUnavailable(p, minReady, now) {
			return status, nil
		}
	}
	return status, nil
}

// processReplica handles the pod of one ordinal in range; true stops an OrderedReady pass.
func (c *Controller) processReplica(ctx context.Context, set, updateSet *appsv1.StatefulSet, monotonic bool,
	replicas []*corev1.Pod, i int, now time.Time) (bool, error) {
	p := replicas[i]
	// A failed or finished pod is replaced (same name) once its deletion is seen.
	if isFailed(p) || isSucceeded(p) {
		if !isTerminating(p) {
			if err := c.pods.deletePod(ctx, set, p); err != nil {
				return true, err
			}
		}
		return true, nil
	}
	if !isCreated(p) {
		if stale, err := c.pods.claimIsStale(set, p); err != nil || stale {
			return true, err
		}
		if err := c.pods.createPod(ctx, set, p); err != nil {
			return true, err
		}
		if monotonic {
			return true, nil
		}
	}
	if isPending(p) {
		if err := c.pods.createClaims(ctx, set, p); err != nil {
			return true, err
		}
	}
	if monotonic && (isTerminating(p) || !isRunningAndReady(p) || !isRunningAndAvailable(p, set.Spec.MinReadySeconds, now)) {
		return true, nil
	}
	match, err := c.pods.claimsMatchRetention(updateSet, p)
	if err != nil {
		match = true // claims not all there yet
	}
	if identityMatches(set, p) && storageMatches(set, p) && match {
		return false, nil
	}
	return false, c.pods.updatePod(ctx, updateSet, p.DeepCopy())
}

// processCondemned deletes one pod beyond the range; OrderedReady waits for a terminating pod
// to go and for every other pod but the first unavailable one to be available.
func (c *Controller) processCondemned(ctx context.Context, set *appsv1.StatefulSet, firstUnavailable *corev1.Pod,
	monotonic bool, condemned []*corev1.Pod, i int, now time.Time) (bool, error) {
	p := condemned[i]
	if isTerminating(p) {
		return monotonic, nil
	}
	if monotonic && p != firstUnavailable && (!isRunningAndReady(p) || !isRunningAndAvailable(p, set.Spec.MinReadySeconds, now)) {
		return true, nil
	}
	return true, c.pods.deletePod(ctx, set, p)
}

// runForAll runs fn for 0..n-1: in order, stopping at the first that asks to (monotonic), or
// in slow-start batches of parallel calls (1, 2, 4, ... up to maxBatch), stopping at a batch
// with an error.
func runForAll(n int, monotonic bool, fn func(i int) (bool, error)) (bool, error) {
	if monotonic {
		for i := 0; i < n; i++ {
			if exit, err := fn(i); exit || err != nil {
				return true, err
			}
		}
		return false, nil
	}
	next := 0
	for batch := min(n, 1); batch > 0; batch = min(2*batch, n-next, maxBatch) {
		errs := make([]error, batch)
		var wg sync.WaitGroup
		for k := 0; k < batch; k++ {
			wg.Add(1)
			go func(k, i int) {
				defer wg.Done()
				_, errs[k] = fn(i)
			}(k, next+k)
		}
		wg.Wait()
		next += batch
		if err := errors.Join(errs...); err != nil {
			return true, err
		}
	}
	return false, nil
}
