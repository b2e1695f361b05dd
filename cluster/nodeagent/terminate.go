package nodeagent

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/drover-ci/drover/cluster/container"
)

// terminate finishes a graceful deletion: app containers get SIGTERM and the grace period,
// then SIGKILL; then the infra container, the containers and the volumes go, and the pod is
// deleted from the API for good.
func (a *Agent) terminate(ctx context.Context, pod *corev1.Pod, cs []container.Container) (time.Duration, error) {
	grace := gracePeriod(pod)
	var wg sync.WaitGroup
	for _, c := range cs {
		if c.State != container.StateRunning || c.Labels[LabelContainer] == infraName {
			continue
		}
		a.recorder.Eventf(pod, corev1.EventTypeNormal, "Killing", "Stopping container %s", c.Labels[LabelContainer])
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			if err := a.cfg.Runtime.Stop(ctx, id, grace); err != nil {
				a.log.Warn("stop container", "id", id, "err", err)
			}
		}(c.ID)
	}
	wg.Wait()
	if err := a.removeAll(ctx, pod.UID, cs); err != nil {
		return 0, err
	}
	zero := int64(0)
	err := a.cfg.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return 0, fmt.Errorf("delete pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return 0, nil
}

// removeAll removes every container of a pod and its volumes, and forgets the pod.
func (a *Agent) removeAll(ctx context.Context, uid types.UID, cs []container.Container) error {
	a.probes.forgetPod(uid)
	for _, c := range cs {
		if err := a.cfg.Runtime.Remove(ctx, c.ID); err != nil {
			return fmt.Errorf("remove container %s: %w", c.Name, err)
		}
	}
	if a.cfg.Volumes != nil {
		if err := a.cfg.Volumes.Teardown(ctx, uid); err != nil {
			return fmt.Errorf("tear down volumes of pod %s: %w", uid, err)
		}
	}
	a.backoff.forget(string(uid) + "/")
	a.backoff.forget("pull/" + string(uid) + "/")
	a.mu.Lock()
	delete(a.reported, uid)
	delete(a.startTime, uid)
	a.mu.Unlock()
	return nil
}

// cleanupPod removes the containers of a pod the API no longer has (deleted while this agent
// was away, or force-deleted).
func (a *Agent) cleanupPod(ctx context.Context, uid types.UID, cs []container.Container) error {
	for _, c := range cs {
		if c.State == container.StateRunning {
			_ = a.cfg.Runtime.Stop(ctx, c.ID, 2*time.Second)
		}
	}
	if len(cs) > 0 {
		a.log.Info("removed containers of a pod that no longer exists", "pod", uid, "containers", len(cs))
	}
	return a.removeAll(ctx, uid, cs)
}

// stopFinished stops the infra container of a pod that has succeeded or failed; its exited
// app containers stay for their logs until the pod is deleted.
func (a *Agent) stopFinished(ctx context.Context, pod *corev1.Pod, view *podView) error {
	a.probes.forgetPod(pod.UID)
	for _, c := range view.all {
		if c.State == container.StateRunning {
			if err := a.cfg.Runtime.Stop(ctx, c.ID, gracePeriod(pod)); err != nil {
				return fmt.Errorf("stop container %s: %w", c.Name, err)
			}
		}
	}
	return nil
}
