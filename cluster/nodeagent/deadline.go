package nodeagent

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover-ci/drover/cluster/container"
)

// The kubelet's activeDeadlineHandler words.
const (
	deadlineReason  = "DeadlineExceeded"
	deadlineMessage = "Pod was active on the node longer than the specified deadline"
)

// deadlineLeft is how long pod may still be active under its activeDeadlineSeconds, counted
// from its startTime as the kubelet does; ok is false when it has no deadline.
func (w *podWorker) deadlineLeft(pod *corev1.Pod) (left time.Duration, ok bool) {
	if pod.Spec.ActiveDeadlineSeconds == nil {
		return 0, false
	}
	start := w.startTime().Time
	allowed := time.Duration(*pod.Spec.ActiveDeadlineSeconds) * time.Second
	return allowed - w.a.cfg.Clock.Since(start), true
}

// deadlineExceeded ends a pod that outlived its activeDeadlineSeconds as the kubelet evicts
// it: a DeadlineExceeded event, its app containers killed (preStop hooks, grace period), and
// the status Failed with reason DeadlineExceeded. The next sync stops its infra container.
func (w *podWorker) deadlineExceeded(ctx context.Context) (time.Duration, error) {
	w.event(corev1.EventTypeNormal, deadlineReason, deadlineMessage)
	pod := w.pod
	var wg sync.WaitGroup
	for _, c := range w.view.all {
		if c.State != container.StateRunning || c.Labels[LabelContainer] == infraName {
			continue
		}
		wg.Add(1)
		go func(c container.Container) {
			defer wg.Done()
			if err := w.kill(ctx, specOf(pod, c.Labels[LabelContainer]), c.ID, stopping(&c), gracePeriod(pod)); err != nil {
				w.a.log.Warn("stop container", "id", c.ID, "err", err)
			}
		}(c)
	}
	wg.Wait()
	w.a.probes.forgetPod(w.uid)
	view, err := w.list(ctx)
	if err != nil {
		return 0, err
	}
	w.view = view
	w.loadTerminationMessages(ctx)
	st := w.status()
	st.Phase, st.Reason, st.Message = corev1.PodFailed, deadlineReason, deadlineMessage
	st.Conditions = w.conditions(initDone(pod, view), nil, false, true)
	if err := w.report(ctx, st); err != nil {
		return 0, err
	}
	return time.Second, nil
}
