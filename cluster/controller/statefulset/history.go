package statefulset

import (
	"bytes"
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// listRevisions are the ControllerRevisions of set's namespace that its selector matches and
// that set controls or nobody does (Kubernetes' ListControllerRevisions).
func (c *Controller) listRevisions(set *appsv1.StatefulSet) ([]*appsv1.ControllerRevision, error) {
	sel, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil {
		return nil, err
	}
	all, err := c.revisions.ControllerRevisions(set.Namespace).List(sel)
	if err != nil {
		return nil, err
	}
	var out []*appsv1.ControllerRevision
	for _, r := range all {
		ref := metav1.GetControllerOf(r)
		if ref == nil || ref.UID == set.UID {
			out = append(out, r)
		}
	}
	return out, nil
}

// adoptOrphanRevisions makes set the controller of the orphaned revisions it selects, once the
// API server confirms set still exists and is not being deleted.
func (c *Controller) adoptOrphanRevisions(ctx context.Context, set *appsv1.StatefulSet) error {
	revisions, err := c.listRevisions(set)
	if err != nil {
		return err
	}
	var orphans []*appsv1.ControllerRevision
	for _, r := range revisions {
		if metav1.GetControllerOf(r) == nil {
			orphans = append(orphans, r)
		}
	}
	if len(orphans) == 0 {
		return nil
	}
	if !c.canAdopt(ctx, set) {
		return nil
	}
	for _, r := range orphans {
		patch, err := ownerPatch(set, r.UID)
		if err != nil {
			return err
		}
		_, err = c.client.AppsV1().ControllerRevisions(r.Namespace).Patch(ctx, r.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("adopt revision %s: %w", r.Name, err)
		}
	}
	return nil
}

// createRevision creates cr, named with a new hash while the name is taken by another
// revision's data, counting each collision in collisionCount (Kubernetes' CreateControllerRevision).
func (c *Controller) createRevision(ctx context.Context, set *appsv1.StatefulSet, cr *appsv1.ControllerRevision, collisionCount *int32) (*appsv1.ControllerRevision, error) {
	clone := cr.DeepCopy()
	for {
		clone.Name = revisionName(set.Name, hashRevision(cr, collisionCount))
		created, err := c.client.AppsV1().ControllerRevisions(set.Namespace).Create(ctx, clone, metav1.CreateOptions{})
		if !apierrors.IsAlreadyExists(err) {
			return created, err
		}
		exists, err := c.client.AppsV1().ControllerRevisions(set.Namespace).Get(ctx, clone.Name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		if bytes.Equal(exists.Data.Raw, clone.Data.Raw) {
			return exists, nil
		}
		*collisionCount++
	}
}

// updateRevisionNumber gives cr the revision number (a rollback to an earlier template).
func (c *Controller) updateRevisionNumber(ctx context.Context, cr *appsv1.ControllerRevision, revision int64) (*appsv1.ControllerRevision, error) {
	clone := cr.DeepCopy()
	for i := 0; ; i++ {
		if clone.Revision == revision {
			return clone, nil
		}
		clone.Revision = revision
		updated, err := c.client.AppsV1().ControllerRevisions(clone.Namespace).Update(ctx, clone, metav1.UpdateOptions{})
		if err == nil || !apierrors.IsConflict(err) || i >= 9 {
			return updated, err
		}
		fresh, gerr := c.client.AppsV1().ControllerRevisions(clone.Namespace).Get(ctx, clone.Name, metav1.GetOptions{})
		if gerr != nil {
			return nil, gerr
		}
		clone = fresh.DeepCopy()
	}
}

// revisionsOf finds (or creates) set's current and update revisions and the collision count
// (Kubernetes' getStatefulSetRevisions). revisions are sorted.
func (c *Controller) revisionsOf(ctx context.Context, set *appsv1.StatefulSet, revisions []*appsv1.ControllerRevision) (current, update *appsv1.ControllerRevision, collisionCount int32, err error) {
	if set.Status.CollisionCount != nil {
		collisionCount = *set.Status.CollisionCount
	}
	update, err = newRevision(set, nextRevision(revisions), &collisionCount)
	if err != nil {
		return nil, nil, collisionCount, err
	}
	equal := findEqualRevisions(revisions, update)
	switch {
	case len(equal) > 0 && equalRevision(revisions[len(revisions)-1], equal[len(equal)-1]):
		update = revisions[len(revisions)-1] // unchanged
	case len(equal) > 0:
		// Back to an earlier template: that revision becomes the newest.
		update, err = c.updateRevisionNumber(ctx, equal[len(equal)-1], update.Revision)
	default:
		update, err = c.createRevision(ctx, set, update, &collisionCount)
	}
	if err != nil {
		return nil, nil, collisionCount, err
	}
	for _, r := range revisions {
		if r.Name == set.Status.CurrentRevision {
			current = r
			break
		}
	}
	if current == nil {
		current = update
	}
	return current, update, collisionCount, nil
}

// truncateHistory deletes the revisions beyond the history limit (see historyToTruncate).
func (c *Controller) truncateHistory(ctx context.Context, set *appsv1.StatefulSet, podRevisions []string, revisions []*appsv1.ControllerRevision, current, update *appsv1.ControllerRevision) error {
	for _, r := range historyToTruncate(set, podRevisions, revisions, current, update) {
		err := c.client.AppsV1().ControllerRevisions(r.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// selectorOf is set's selector as a labels.Selector.
func selectorOf(set *appsv1.StatefulSet) (labels.Selector, error) {
	return metav1.LabelSelectorAsSelector(set.Spec.Selector)
}
