package app

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// Annotations of Kubernetes 1.x's kubectl rolling-update.
const (
	desiredReplicasAnnotation  = "kubectl.kubernetes.io/desired-replicas"
	originalReplicasAnnotation = "kubectl.kubernetes.io/original-replicas"
	sourceIDAnnotation         = "kubectl.kubernetes.io/update-source-id"
	nextControllerAnnotation   = "kubectl.kubernetes.io/next-controller-id"
)

// rollingUpdater replaces one replication controller by another one pod at a time, as
// Kubernetes 1.x's kubectl did: scale the new one up by at most maxSurge (1), then scale the
// old one down as far as the new one's ready pods allow (maxUnavailable 0), every updatePeriod.
type rollingUpdater struct {
	client       kubernetes.Interface
	ns           string
	out          io.Writer
	updatePeriod time.Duration // pause between scaling up and scaling down
	interval     time.Duration // poll interval while waiting for a controller
	timeout      time.Duration // without progress for this long, the update fails
}

// cleanup policies for the end of the update.
const (
	deleteOld  = "delete" // delete the old controller
	renameBack = "rename" // delete the old controller and give its name to the new one
)

// update runs the rolling update of oldRc to newRc (which is created, with 0 replicas, unless
// a previous interrupted update left it) and returns the final new controller.
func (r *rollingUpdater) update(ctx context.Context, oldRc, newRc *corev1.ReplicationController, cleanup string) (*corev1.ReplicationController, error) {
	sourceID := fmt.Sprintf("%s:%s", oldRc.Name, oldRc.UID)
	newRc, err := r.getOrCreateTarget(ctx, newRc, sourceID)
	if err != nil {
		return nil, err
	}
	desired, err := strconv.Atoi(newRc.Annotations[desiredReplicasAnnotation])
	if err != nil {
		return nil, fmt.Errorf("unable to parse annotation for %s: %s=%s", newRc.Name, desiredReplicasAnnotation, newRc.Annotations[desiredReplicasAnnotation])
	}
	if _, ok := oldRc.Annotations[originalReplicasAnnotation]; !ok {
		orig := strconv.Itoa(int(replicasOf(oldRc)))
		oldRc, err = r.updateRC(ctx, oldRc.Name, func(rc *corev1.ReplicationController) {
			setAnnotation(rc, originalReplicasAnnotation, orig)
		})
		if err != nil {
			return nil, err
		}
	}
	want := int32(desired)
	maxSurge, maxUnavailable := int32(1), int32(0)
	minAvailable := max(0, want-maxUnavailable)
	if want == 0 {
		minAvailable = 0
	}
	fmt.Fprintf(r.out, "Scaling up %s from %d to %d, scaling down %s from %d to 0 (keep %d pods available, don't exceed %d pods)\n",
		newRc.Name, replicasOf(newRc), want, oldRc.Name, replicasOf(oldRc), minAvailable, want+maxSurge)
	deadline := time.Now().Add(r.timeout)
	for replicasOf(newRc) != want || replicasOf(oldRc) != 0 {
		before := [2]int32{replicasOf(newRc), replicasOf(oldRc)}
		if newRc, err = r.scaleUp(ctx, newRc, oldRc, want, maxSurge); err != nil {
			return nil, err
		}
		if err := sleep(ctx, r.updatePeriod); err != nil {
			return nil, err
		}
		if oldRc, err = r.scaleDown(ctx, newRc, oldRc, want, minAvailable); err != nil {
			return nil, err
		}
		if before != [2]int32{replicasOf(newRc), replicasOf(oldRc)} {
			deadline = time.Now().Add(r.timeout)
		} else if time.Now().After(deadline) {
			return nil, fmt.Errorf("timed out waiting for any update progress to be made")
		}
	}
	return r.cleanup(ctx, oldRc, newRc, cleanup)
}

// getOrCreateTarget returns the new controller: the one an interrupted update of the same
// source left behind, or a newly created one with 0 replicas and the desired count annotated.
func (r *rollingUpdater) getOrCreateTarget(ctx context.Context, rc *corev1.ReplicationController, sourceID string) (*corev1.ReplicationController, error) {
	existing, err := r.rcs().Get(ctx, rc.Name, metav1.GetOptions{})
	if err == nil {
		if existing.Annotations[sourceIDAnnotation] != sourceID || existing.Annotations[desiredReplicasAnnotation] == "" {
			return nil, fmt.Errorf("missing/unexpected annotations for controller %s, expected %s : %v", rc.Name, sourceID, existing.Annotations)
		}
		fmt.Fprintf(r.out, "Continuing update with existing controller %s.\n", rc.Name)
		return existing, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, err
	}
	if replicasOf(rc) <= 0 {
		return nil, fmt.Errorf("invalid controller spec for %s; required: > 0 replicas, actual: %d", rc.Name, replicasOf(rc))
	}
	rc = rc.DeepCopy()
	setAnnotation(rc, desiredReplicasAnnotation, strconv.Itoa(int(replicasOf(rc))))
	setAnnotation(rc, sourceIDAnnotation, sourceID)
	rc.Spec.Replicas = ptrInt32(0)
	created, err := r.rcs().Create(ctx, rc, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(r.out, "Created %s\n", created.Name)
	return created, nil
}

// scaleUp raises newRc towards desired without exceeding desired+maxSurge pods in total.
func (r *rollingUpdater) scaleUp(ctx context.Context, newRc, oldRc *corev1.ReplicationController, desired, maxSurge int32) (*corev1.ReplicationController, error) {
	cur := replicasOf(newRc)
	if cur == desired {
		return newRc, nil
	}
	increment := desired + maxSurge - (replicasOf(oldRc) + cur)
	if replicasOf(oldRc) == 0 {
		increment = desired - cur
	}
	if increment <= 0 {
		return newRc, nil
	}
	next := min(cur+increment, desired)
	fmt.Fprintf(r.out, "Scaling %s up to %d\n", newRc.Name, next)
	return r.scaleAndWait(ctx, newRc.Name, next)
}

// scaleDown lowers oldRc as far as newRc's ready pods keep minAvailable pods available.
func (r *rollingUpdater) scaleDown(ctx context.Context, newRc, oldRc *corev1.ReplicationController, desired, minAvailable int32) (*corev1.ReplicationController, error) {
	if replicasOf(oldRc) == 0 {
		return oldRc, nil
	}
	fresh, err := r.rcs().Get(ctx, newRc.Name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	newAvailable := fresh.Status.ReadyReplicas
	newUnavailable := replicasOf(newRc) - newAvailable
	decrement := replicasOf(oldRc) + replicasOf(newRc) - minAvailable - newUnavailable
	if decrement <= 0 {
		return oldRc, nil
	}
	next := max(replicasOf(oldRc)-decrement, 0)
	if replicasOf(newRc) == desired && newAvailable == desired {
		next = 0
	}
	fmt.Fprintf(r.out, "Scaling %s down to %d\n", oldRc.Name, next)
	return r.scaleAndWait(ctx, oldRc.Name, next)
}

// scaleAndWait sets spec.replicas and waits until the controller reports that many replicas.
func (r *rollingUpdater) scaleAndWait(ctx context.Context, name string, replicas int32) (*corev1.ReplicationController, error) {
	if _, err := r.updateRC(ctx, name, func(rc *corev1.ReplicationController) { rc.Spec.Replicas = ptrInt32(replicas) }); err != nil {
		return nil, err
	}
	return r.waitForReplicas(ctx, name)
}

// waitForReplicas polls until the controller has observed its spec and has spec.replicas pods.
func (r *rollingUpdater) waitForReplicas(ctx context.Context, name string) (*corev1.ReplicationController, error) {
	deadline := time.Now().Add(r.timeout)
	for {
		rc, err := r.rcs().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		if rc.Status.ObservedGeneration >= rc.Generation && rc.Status.Replicas == replicasOf(rc) {
			return rc, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("timed out waiting for %s to have %d replicas (has %d)", name, replicasOf(rc), rc.Status.Replicas)
		}
		if err := sleep(ctx, r.interval); err != nil {
			return nil, err
		}
	}
}

// updateRC applies fn to the latest version of a controller, retrying on conflicts.
func (r *rollingUpdater) updateRC(ctx context.Context, name string, fn func(*corev1.ReplicationController)) (*corev1.ReplicationController, error) {
	var out *corev1.ReplicationController
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		rc, err := r.rcs().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		fn(rc)
		out, err = r.rcs().Update(ctx, rc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("updating replication controller %s: %w", name, err)
	}
	return out, nil
}

func (r *rollingUpdater) rcs() rcInterface { return r.client.CoreV1().ReplicationControllers(r.ns) }

func replicasOf(rc *corev1.ReplicationController) int32 {
	if rc.Spec.Replicas == nil {
		return 1
	}
	return *rc.Spec.Replicas
}

func ptrInt32(v int32) *int32 { return &v }

func setAnnotation(rc *corev1.ReplicationController, k, v string) {
	if rc.Annotations == nil {
		rc.Annotations = map[string]string{}
	}
	rc.Annotations[k] = v
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
