package deployment

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// sync brings one Deployment's ReplicaSets and status in line with its spec (Kubernetes'
// syncDeployment). The duration asks for a later look (a progress-deadline check).
func (c *Controller) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	cached, err := c.ds.Deployments(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	d := cached.DeepCopy()
	if d.Spec.Selector == nil || reflect.DeepEqual(d.Spec.Selector, &metav1.LabelSelector{}) {
		c.recorder.Eventf(d, corev1.EventTypeWarning, "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.")
		if d.Status.ObservedGeneration < d.Generation {
			d.Status.ObservedGeneration = d.Generation
			_, err := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
			return 0, err
		}
		return 0, nil
	}
	rss, err := c.claimReplicaSets(ctx, d)
	if err != nil {
		return 0, err
	}
	newRS, oldRSs, err := c.replicaSetsAndRevision(ctx, d, rss)
	if err != nil {
		return 0, err
	}
	if d.DeletionTimestamp != nil {
		return 0, c.syncStatus(ctx, append(oldRSs, newRS), newRS, d)
	}
	if err := c.checkPausedConditions(ctx, d); err != nil {
		return 0, err
	}
	if d.Spec.Paused || isScalingEvent(d, append(oldRSs, newRS)) {
		return 0, c.syncScale(ctx, d, newRS, oldRSs)
	}
	switch d.Spec.Strategy.Type {
	case appsv1.RecreateDeploymentStrategyType:
		return c.rolloutRecreate(ctx, d, newRS, oldRSs, rss)
	case appsv1.RollingUpdateDeploymentStrategyType:
		return c.rolloutRolling(ctx, d, newRS, oldRSs)
	}
	return 0, fmt.Errorf("unexpected deployment strategy type: %s", d.Spec.Strategy.Type)
}

// checkPausedConditions records a pause or resume in the Progressing condition, so that a
// resumed Deployment does not count its pause against the progress deadline.
func (c *Controller) checkPausedConditions(ctx context.Context, d *appsv1.Deployment) error {
	cond, ok := pausedCondition(d, c.clock.Now())
	if !ok {
		return nil
	}
	setCondition(&d.Status, cond)
	return c.writeStatus(ctx, d)
}

// writeStatus writes d's status and takes the stored object back into d.
func (c *Controller) writeStatus(ctx context.Context, d *appsv1.Deployment) error {
	out, err := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	*d = *out
	return nil
}

// syncScale handles a scaling event or a paused Deployment: sizes change, no rollout step
// (Kubernetes' sync).
func (c *Controller) syncScale(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) error {
	if err := c.scale(ctx, d, newRS, oldRSs); err != nil {
		return err
	}
	if d.Spec.Paused {
		if err := c.cleanup(ctx, d, oldRSs); err != nil {
			return err
		}
	}
	return c.syncStatus(ctx, append(oldRSs, newRS), newRS, d)
}

// syncStatus writes the counts and the Available condition when they changed.
func (c *Controller) syncStatus(ctx context.Context, allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) error {
	st := calculateStatus(allRSs, newRS, d, c.clock.Now())
	if apiequality.Semantic.DeepEqual(d.Status, st) {
		return nil
	}
	d.Status = st
	return c.writeStatus(ctx, d)
}

// syncRolloutStatus writes the status of a rollout step, conditions included, and says when
// to look again for the progress deadline.
func (c *Controller) syncRolloutStatus(ctx context.Context, allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) (time.Duration, error) {
	now := c.clock.Now()
	st := rolloutStatus(allRSs, newRS, d, now)
	if apiequality.Semantic.DeepEqual(d.Status, st) {
		switch after := progressCheckAfter(d, st, now); {
		case after == 0:
			return 500 * time.Millisecond, nil
		case after > 0:
			return after, nil
		}
		return 0, nil
	}
	d.Status = st
	return 0, c.writeStatus(ctx, d)
}

// replicaSetsAndRevision finds the new and old ReplicaSets among rss and brings the new
// one's annotations and minReadySeconds and the Deployment's revision up to date (Kubernetes'
// getAllReplicaSetsAndSyncRevision without creating). newRS is nil when there is none yet.
func (c *Controller) replicaSetsAndRevision(ctx context.Context, d *appsv1.Deployment, rss []*appsv1.ReplicaSet) (newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet, err error) {
	oldRSs = findOldReplicaSets(d, rss)
	existing := findNewReplicaSet(d, rss)
	if existing == nil {
		return nil, oldRSs, nil
	}
	newRevision := strconv.FormatInt(maxRevision(oldRSs)+1, 10)
	rs := existing.DeepCopy()
	annotationsUpdated := setNewReplicaSetAnnotations(d, rs, newRevision, true, maxRevHistoryLengthInChars)
	if annotationsUpdated || rs.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
		rs.Spec.MinReadySeconds = d.Spec.MinReadySeconds
		out, err := c.client.AppsV1().ReplicaSets(rs.Namespace).Update(ctx, rs, metav1.UpdateOptions{})
		return out, oldRSs, err
	}
	needsUpdate := setDeploymentRevision(d, rs.Annotations[RevisionAnnotation])
	if hasProgressDeadline(d) && getCondition(d.Status, appsv1.DeploymentProgressing) == nil {
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, FoundNewRSReason,
			fmt.Sprintf("Found new replica set %q", rs.Name), c.clock.Now()))
		needsUpdate = true
	}
	if needsUpdate {
		if err := c.writeStatus(ctx, d); err != nil {
			return nil, nil, err
		}
	}
	return rs, oldRSs, nil
}

// newReplicaSetFor is the ReplicaSet the Deployment's template gets: NAME-HASH, the hash in
// its template labels, selector and labels, owned by the Deployment, its first size and
// annotations set (a pure function of the Deployment and its old ReplicaSets).
func newReplicaSetFor(d *appsv1.Deployment, oldRSs []*appsv1.ReplicaSet, newRevision string) (*appsv1.ReplicaSet, error) {
	tmpl := *d.Spec.Template.DeepCopy()
	hash := computeHash(&tmpl, d.Status.CollisionCount)
	tmpl.Labels = withLabel(d.Spec.Template.Labels, appsv1.DefaultDeploymentUniqueLabelKey, hash)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:            d.Name + "-" + hash,
			Namespace:       d.Namespace,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, deploymentKind)},
			Labels:          tmpl.Labels,
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        new(int32),
			MinReadySeconds: d.Spec.MinReadySeconds,
			Selector:        selectorWithLabel(d.Spec.Selector, appsv1.DefaultDeploymentUniqueLabelKey, hash),
			Template:        tmpl,
		},
	}
	n, err := newRSNewReplicas(d, append(append([]*appsv1.ReplicaSet(nil), oldRSs...), rs), rs)
	if err != nil {
		return nil, err
	}
	*rs.Spec.Replicas = n
	setNewReplicaSetAnnotations(d, rs, newRevision, false, maxRevHistoryLengthInChars)
	return rs, nil
}

// createNewReplicaSet creates the new ReplicaSet; a name taken by a ReplicaSet that is not
// this template's is a hash collision: collisionCount goes up and the sync is retried.
func (c *Controller) createNewReplicaSet(ctx context.Context, d *appsv1.Deployment, oldRSs []*appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
	newRevision := strconv.FormatInt(maxRevision(oldRSs)+1, 10)
	rs, err := newReplicaSetFor(d, oldRSs, newRevision)
	if err != nil {
		return nil, err
	}
	now := c.clock.Now()
	alreadyExists := false
	created, err := c.client.AppsV1().ReplicaSets(d.Namespace).Create(ctx, rs, metav1.CreateOptions{})
	switch {
	case apierrors.IsAlreadyExists(err):
		alreadyExists = true
		found, getErr := c.rss.ReplicaSets(rs.Namespace).Get(rs.Name)
		if getErr != nil {
			return nil, getErr
		}
		if ref := metav1.GetControllerOf(found); ref != nil && ref.UID == d.UID && equalIgnoreHash(&d.Spec.Template, &found.Spec.Template) {
			created, err = found, nil
			break
		}
		if d.Status.CollisionCount == nil {
			d.Status.CollisionCount = new(int32)
		}
		*d.Status.CollisionCount++
		if werr := c.writeStatus(ctx, d); werr == nil {
			c.log.Info("hash collision: collisionCount raised", "deployment", d.Namespace+"/"+d.Name, "collisionCount", *d.Status.CollisionCount)
		}
		return nil, err
	case err != nil:
		msg := fmt.Sprintf("Failed to create new replica set %q: %v", rs.Name, err)
		if hasProgressDeadline(d) {
			setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, FailedRSCreateReason, msg, now))
			_ = c.writeStatus(ctx, d) // the create error is the one to report
		}
		c.recorder.Eventf(d, corev1.EventTypeWarning, FailedRSCreateReason, msg)
		return nil, err
	}
	if !alreadyExists && rsReplicas(rs) > 0 {
		c.recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled up replica set %s from 0 to %d", created.Name, rsReplicas(rs))
	}
	needsUpdate := setDeploymentRevision(d, newRevision)
	if !alreadyExists && hasProgressDeadline(d) {
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, NewReplicaSetReason,
			fmt.Sprintf("Created new replica set %q", created.Name), now))
		needsUpdate = true
	}
	if needsUpdate {
		if err := c.writeStatus(ctx, d); err != nil {
			return created, err
		}
	}
	return created, nil
}

// scale resizes the ReplicaSets on a scaling event or while paused (Kubernetes' scale): the
// only active (or newest) ReplicaSet to replicas; with a saturated new ReplicaSet the old ones
// to 0; else, for RollingUpdate, proportionally.
func (c *Controller) scale(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) error {
	if rs := findActiveOrLatest(newRS, oldRSs); rs != nil {
		if rsReplicas(rs) == replicas(d) {
			return nil
		}
		_, _, err := c.scaleReplicaSetAndRecordEvent(ctx, rs, replicas(d), d)
		return err
	}
	if isSaturated(d, newRS) {
		for _, old := range activeReplicaSets(oldRSs) {
			if _, _, err := c.scaleReplicaSetAndRecordEvent(ctx, old, 0, d); err != nil {
				return err
			}
		}
		return nil
	}
	if !isRollingUpdate(d) {
		return nil
	}
	plan, op := planProportionalScale(d, newRS, oldRSs)
	for _, s := range plan {
		if _, _, err := c.scaleReplicaSet(ctx, s.rs, s.replicas, d, op); err != nil {
			return err
		}
	}
	return nil
}

func (c *Controller) scaleReplicaSetAndRecordEvent(ctx context.Context, rs *appsv1.ReplicaSet, to int32, d *appsv1.Deployment) (bool, *appsv1.ReplicaSet, error) {
	if rsReplicas(rs) == to {
		return false, rs, nil
	}
	op := "down"
	if rsReplicas(rs) < to {
		op = "up"
	}
	return c.scaleReplicaSet(ctx, rs, to, d, op)
}

// scaleReplicaSet sets rs's replicas and its replicas annotations; it reports whether the
// size changed (with a ScalingReplicaSet event of the Deployment).
func (c *Controller) scaleReplicaSet(ctx context.Context, rs *appsv1.ReplicaSet, to int32, d *appsv1.Deployment, op string) (bool, *appsv1.ReplicaSet, error) {
	sizeChanges := rsReplicas(rs) != to
	maxReplicas := replicas(d) + maxSurge(d)
	if !sizeChanges && !replicasAnnotationsNeedUpdate(rs, replicas(d), maxReplicas) {
		return false, rs, nil
	}
	from := rsReplicas(rs)
	cp := rs.DeepCopy()
	cp.Spec.Replicas = &to
	setReplicasAnnotations(cp, replicas(d), maxReplicas)
	out, err := c.client.AppsV1().ReplicaSets(cp.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
	if err != nil {
		return false, rs, fmt.Errorf("scale replicaset %s: %w", rs.Name, err)
	}
	if sizeChanges {
		c.recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d", op, out.Name, from, to)
	}
	return sizeChanges, out, nil
}

// cleanup deletes the old ReplicaSets beyond revisionHistoryLimit (see cleanupVictims).
func (c *Controller) cleanup(ctx context.Context, d *appsv1.Deployment, oldRSs []*appsv1.ReplicaSet) error {
	for _, rs := range cleanupVictims(d, oldRSs) {
		err := c.client.AppsV1().ReplicaSets(rs.Namespace).Delete(ctx, rs.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &rs.UID}})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("clean up replicaset %s: %w", rs.Name, err)
		}
	}
	return nil
}
