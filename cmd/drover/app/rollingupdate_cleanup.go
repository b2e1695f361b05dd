package app

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

type rcInterface = corev1client.ReplicationControllerInterface

// cleanup removes the update's bookkeeping annotations from the new controller, waits for it
// to have its replicas, and deletes the old controller (renaming the new one to the old name
// with the rename policy).
func (r *rollingUpdater) cleanup(ctx context.Context, oldRc, newRc *corev1.ReplicationController, policy string) (*corev1.ReplicationController, error) {
	newRc, err := r.updateRC(ctx, newRc.Name, func(rc *corev1.ReplicationController) {
		delete(rc.Annotations, sourceIDAnnotation)
		delete(rc.Annotations, desiredReplicasAnnotation)
	})
	if err != nil {
		return nil, err
	}
	if newRc, err = r.waitForReplicas(ctx, newRc.Name); err != nil {
		return nil, err
	}
	if policy != renameBack {
		fmt.Fprintf(r.out, "Update succeeded. Deleting %s\n", oldRc.Name)
		return newRc, r.rcs().Delete(ctx, oldRc.Name, metav1.DeleteOptions{})
	}
	fmt.Fprintf(r.out, "Update succeeded. Deleting old controller: %s\n", oldRc.Name)
	if err := r.rcs().Delete(ctx, oldRc.Name, metav1.DeleteOptions{}); err != nil {
		return nil, err
	}
	if err := r.waitDeleted(ctx, oldRc.Name); err != nil {
		return nil, err
	}
	fmt.Fprintf(r.out, "Renaming %s to %s\n", newRc.Name, oldRc.Name)
	return r.rename(ctx, newRc, oldRc.Name)
}

// rename creates a copy of rc under newName and deletes rc, orphaning its pods so that the
// copy (with the same selector) adopts them.
func (r *rollingUpdater) rename(ctx context.Context, rc *corev1.ReplicationController, newName string) (*corev1.ReplicationController, error) {
	oldName := rc.Name
	cp := rc.DeepCopy()
	cp.ObjectMeta = metav1.ObjectMeta{
		Name:        newName,
		Namespace:   rc.Namespace,
		Labels:      rc.Labels,
		Annotations: rc.Annotations,
	}
	cp.Status = corev1.ReplicationControllerStatus{}
	created, err := r.rcs().Create(ctx, cp, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	orphan := metav1.DeletePropagationOrphan
	if err := r.rcs().Delete(ctx, oldName, metav1.DeleteOptions{PropagationPolicy: &orphan}); err != nil && !apierrors.IsNotFound(err) {
		return nil, err
	}
	if err := r.waitDeleted(ctx, oldName); err != nil {
		return nil, err
	}
	if created == nil {
		return r.rcs().Get(ctx, newName, metav1.GetOptions{})
	}
	return created, nil
}

// waitDeleted polls until the named controller is gone.
func (r *rollingUpdater) waitDeleted(ctx context.Context, name string) error {
	start := time.Now()
	for {
		_, err := r.rcs().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if time.Since(start) > r.timeout {
			return fmt.Errorf("timed out waiting for replication controller %s to be deleted", name)
		}
		if err := sleep(ctx, r.interval); err != nil {
			return err
		}
	}
}
