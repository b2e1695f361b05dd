package nodeagent

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cluster/container"
)

// terminate finishes a graceful deletion: app containers run their preStop hooks and get
// SIGTERM within the grace period, then SIGKILL; then the infra container, the containers and the volumes go, and the pod is
// deleted from the API for good.
func (w *podWorker) terminate(ctx context.Context) error {
	pod := w.pod
	grace := gracePeriod(pod)
	var wg sync.WaitGroup
	for _, c := range w.view.all {
		if c.State != container.StateRunning || c.Labels[LabelContainer] == infraName {
			continue
		}
		wg.Add(1)
		go func(c container.Container) {
			defer wg.Done()
			if err := w.kill(ctx, specOf(pod, c.Labels[LabelContainer]), c.ID, stopping(&c), grace); err != nil {
				w.a.log.Warn("stop container", "id", c.ID, "err", err)
			}
		}(c)
	}
	wg.Wait()
	if err := w.removeAll(ctx); err != nil {
		return err
	}
	zero := int64(0)
	err := w.a.cfg.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// removeAll stops the pod's probes and removes its containers and volumes.
func (w *podWorker) removeAll(ctx context.Context) error {
	w.a.probes.forgetPod(w.uid)
	for _, c := range w.view.all {
		if err := w.a.cfg.Runtime.Remove(ctx, c.ID); err != nil {
			return fmt.Errorf("remove container %s: %w", c.Name, err)
		}
	}
	if w.a.cfg.Volumes != nil {
		if err := w.a.cfg.Volumes.Teardown(ctx, w.uid); err != nil {
			return fmt.Errorf("tear down volumes of pod %s: %w", w.uid, err)
		}
	}
	return nil
}

// cleanup removes the containers and volumes of a pod the API no longer has (deleted while
// this agent was away, or force-deleted), and then the pod's worker.
func (w *podWorker) cleanup(ctx context.Context) error {
	for _, c := range w.view.all {
		if c.State == container.StateRunning {
			_ = w.a.cfg.Runtime.Stop(ctx, c.ID, 2*time.Second)
		}
	}
	if len(w.view.all) > 0 {
		w.a.log.Info("removed containers of a pod that no longer exists", "pod", w.uid, "containers", len(w.view.all))
	}
	if err := w.removeAll(ctx); err != nil {
		return err
	}
	w.a.forget(w)
	return nil
}

// stopFinished stops the infra container of a pod that has succeeded or failed; its exited
// app containers stay for their logs until the pod is deleted.
func (w *podWorker) stopFinished(ctx context.Context) error {
	w.a.probes.forgetPod(w.uid)
	for _, c := range w.view.all {
		if c.State == container.StateRunning {
			var spec *corev1.Container // the infra container has none: no event, no hook
			if c.Labels[LabelContainer] != infraName {
				spec = specOf(w.pod, c.Labels[LabelContainer])
			}
			if err := w.kill(ctx, spec, c.ID, stopping(&c), gracePeriod(w.pod)); err != nil {
				return fmt.Errorf("stop container %s: %w", c.Name, err)
			}
		}
	}
	return nil
}
