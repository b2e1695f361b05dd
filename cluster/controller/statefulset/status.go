package statefulset

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// completeRollingUpdate: once every pod is updated and ready under RollingUpdate, the update
// revision becomes the current one.
func completeRollingUpdate(set *appsv1.StatefulSet, status *appsv1.StatefulSetStatus) {
	if isRollingUpdate(set) && status.UpdatedReplicas == status.Replicas && status.ReadyReplicas == status.Replicas {
		status.CurrentReplicas = status.UpdatedReplicas
		status.CurrentRevision = status.UpdateRevision
	}
}

// inconsistentStatus reports whether status says something set's status does not.
func inconsistentStatus(set *appsv1.StatefulSet, status *appsv1.StatefulSetStatus) bool {
	s := &set.Status
	return status.ObservedGeneration > s.ObservedGeneration ||
		status.Replicas != s.Replicas ||
		status.CurrentReplicas != s.CurrentReplicas ||
		status.ReadyReplicas != s.ReadyReplicas ||
		status.UpdatedReplicas != s.UpdatedReplicas ||
		status.CurrentRevision != s.CurrentRevision ||
		status.AvailableReplicas != s.AvailableReplicas ||
		status.UpdateRevision != s.UpdateRevision
}

// writeStatus completes a finished rolling update in status and writes it when it differs,
// retrying conflicts on the cached set.
func (c *Controller) writeStatus(ctx context.Context, set *appsv1.StatefulSet, status *appsv1.StatefulSetStatus) error {
	completeRollingUpdate(set, status)
	if !inconsistentStatus(set, status) {
		return nil
	}
	set = set.DeepCopy()
	for i := 0; ; i++ {
		set.Status = *status
		_, err := c.client.AppsV1().StatefulSets(set.Namespace).UpdateStatus(ctx, set, metav1.UpdateOptions{})
		if err == nil || !apierrors.IsConflict(err) || i >= 4 {
			return err
		}
		fresh, gerr := c.sets.StatefulSets(set.Namespace).Get(set.Name)
		if gerr != nil {
			return err
		}
		set = fresh.DeepCopy()
	}
}
