package nodeagent

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cluster/container"
)

// status computes the pod's status from its containers, as the kubelet does.
func (w *podWorker) status() corev1.PodStatus {
	pod, hostIP := w.pod, w.a.hostIP
	st := corev1.PodStatus{QOSClass: pod.Status.QOSClass, HostIP: hostIP, StartTime: w.startTime()}
	if hostIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: hostIP}}
	}
	if infra := w.view.infra; running(infra) && infra.IP != "" {
		st.PodIP = infra.IP
		st.PodIPs = []corev1.PodIP{{IP: infra.IP}}
	}
	var notInitialized []string
	for i := range pod.Spec.InitContainers {
		cs := w.containerStatus(&pod.Spec.InitContainers[i])
		// A completed init container is ready; a running one is not (it has no probes).
		t := cs.State.Terminated
		cs.Ready = t != nil && t.ExitCode == 0
		if !cs.Ready {
			notInitialized = append(notInitialized, cs.Name)
		}
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
	}
	allReady := true
	for i := range pod.Spec.Containers {
		cs := w.containerStatus(&pod.Spec.Containers[i])
		allReady = allReady && cs.Ready
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	st.EphemeralContainerStatuses = w.ephemeralStatuses()
	initialized := initDone(pod, w.view)
	st.Phase = podPhase(pod.Spec.RestartPolicy, st.ContainerStatuses)
	if !initialized {
		st.Phase = initPhase(pod.Spec.RestartPolicy, st.InitContainerStatuses)
	}
	finished := st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed
	st.Conditions = w.conditions(initialized, notInitialized, allReady && initialized && !finished, finished)
	return st
}

// startTime is the pod's startTime: as written, or when the agent first synced it.
func (w *podWorker) startTime() *metav1.Time {
	if t := w.pod.Status.StartTime; t != nil {
		return t
	}
	if w.started.IsZero() {
		w.started = w.a.cfg.Clock.Now()
	}
	mt := metav1.NewTime(w.started.Truncate(time.Second))
	return &mt
}

// conditions are the pod's Initialized, Ready, ContainersReady and PodScheduled conditions;
// one whose status did not change keeps its last transition time.
func (w *podWorker) conditions(initialized bool, notInitialized []string, ready, finished bool) []corev1.PodCondition {
	base := w.pod.Status
	if w.reported != nil {
		base = *w.reported
	}
	now := metav1.NewTime(w.a.cfg.Clock.Now().Truncate(time.Second))
	cond := func(t corev1.PodConditionType, ok bool, reason, message string) corev1.PodCondition {
		s := corev1.ConditionFalse
		if ok {
			s, reason, message = corev1.ConditionTrue, "", ""
		}
		c := corev1.PodCondition{Type: t, Status: s, Reason: reason, Message: message, LastTransitionTime: now}
		for _, old := range base.Conditions {
			if old.Type == t && old.Status == s {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
		return c
	}
	notReady := "ContainersNotReady"
	if finished {
		notReady = "PodCompleted"
	}
	return []corev1.PodCondition{
		cond(corev1.PodInitialized, initialized, "ContainersNotInitialized",
			fmt.Sprintf("containers with incomplete status: %v", notInitialized)),
		cond(corev1.PodReady, ready, notReady, ""),
		cond(corev1.ContainersReady, ready, notReady, ""),
		cond(corev1.PodScheduled, true, "", ""),
	}
}

// containerStatus describes the newest attempt of c (and the one before it).
func (w *podWorker) containerStatus(c *corev1.Container) corev1.ContainerStatus {
	cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image}
	cur, prev := w.view.current(c.Name), w.view.previous(c.Name)
	if cur != nil {
		cs.RestartCount = int32(attemptOf(*cur))
		cs.ContainerID = "docker://" + cur.ID
		cs.ImageID = cur.ImageID
	}
	if prev != nil {
		cs.LastTerminationState = corev1.ContainerState{Terminated: w.terminatedOf(prev)}
	}
	wt, isWaiting := w.res.waiting[c.Name]
	switch {
	case cur != nil && cur.State == container.StateRunning:
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(cur.StartedAt)}
		started := true
		cs.Started = &started
		cs.Ready = w.a.probes.ready(cur.ID, c)
	case cur != nil && cur.State == container.StateExited && !isWaiting:
		cs.State.Terminated = w.terminatedOf(cur)
		f := false
		cs.Started = &f
	case cur != nil && cur.State == container.StateExited:
		// Waiting to restart: the exited attempt is the last termination.
		cs.LastTerminationState = corev1.ContainerState{Terminated: w.terminatedOf(cur)}
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: wt.reason, Message: wt.message}
	default:
		if !isWaiting {
			wt = waiting{reason: "ContainerCreating"}
		}
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: wt.reason, Message: wt.message}
	}
	return cs
}

func terminated(c *container.Container) *corev1.ContainerStateTerminated {
	reason := "Completed"
	switch {
	case c.OOMKilled:
		reason = "OOMKilled"
	case c.ExitCode != 0:
		reason = "Error"
	}
	if c.State != container.StateExited {
		return nil
	}
	return &corev1.ContainerStateTerminated{ExitCode: int32(c.ExitCode), Reason: reason, Message: c.Error,
		StartedAt: metav1.NewTime(c.StartedAt), FinishedAt: metav1.NewTime(c.FinishedAt), ContainerID: "docker://" + c.ID}
}

// podPhase follows the kubelet's getPhase.
func podPhase(policy corev1.RestartPolicy, statuses []corev1.ContainerStatus) corev1.PodPhase {
	var pending, running, stopped, succeeded int
	for _, s := range statuses {
		switch {
		case s.State.Running != nil:
			running++
		case s.State.Terminated != nil:
			stopped++
			if s.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case s.State.Waiting != nil && s.LastTerminationState.Terminated != nil:
			stopped++
		default:
			pending++
		}
	}
	switch {
	case pending > 0:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case stopped > 0:
		// As the kubelet: a container waiting to restart counts as stopped, not succeeded;
		// an empty policy is Always (the API's default, as in shouldRestart).
		switch {
		case policy == corev1.RestartPolicyAlways || policy == "":
			return corev1.PodRunning
		case stopped == succeeded:
			return corev1.PodSucceeded
		case policy == corev1.RestartPolicyNever:
			return corev1.PodFailed
		}
		return corev1.PodRunning
	}
	return corev1.PodPending
}

// initPhase is the phase of a pod whose init containers have not all completed, as the
// kubelet's getPhase: Failed when one failed and restartPolicy is Never (it will not be run
// again), else Pending.
func initPhase(policy corev1.RestartPolicy, statuses []corev1.ContainerStatus) corev1.PodPhase {
	if policy != corev1.RestartPolicyNever {
		return corev1.PodPending
	}
	for _, s := range statuses {
		if t := s.State.Terminated; t != nil && t.ExitCode != 0 {
			return corev1.PodFailed
		}
	}
	return corev1.PodPending
}

// report writes status when it differs from what was last reported.
func (w *podWorker) report(ctx context.Context, status corev1.PodStatus) error {
	pod := w.pod
	if w.reported != nil && apiequality.Semantic.DeepEqual(*w.reported, status) {
		return nil
	}
	if w.reported == nil && apiequality.Semantic.DeepEqual(pod.Status, status) {
		w.reported = &status
		return nil
	}
	written, err := w.a.updateStatus(ctx, pod, status)
	if written {
		w.reported = &status
	}
	return err
}

// updateStatus writes pod's status, retrying on a conflict, and reports whether it did. A pod
// that is gone, or was replaced by another of the same name, is not an error.
func (a *Agent) updateStatus(ctx context.Context, pod *corev1.Pod, status corev1.PodStatus) (bool, error) {
	pods := a.cfg.Client.CoreV1().Pods(pod.Namespace)
	p := pod.DeepCopy()
	p.Status = status
	_, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		fresh, gerr := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if gerr != nil {
			return false, fmt.Errorf("get pod for status: %w", gerr)
		}
		if fresh.UID != pod.UID {
			return false, nil
		}
		fresh.Status = status
		_, err = pods.UpdateStatus(ctx, fresh, metav1.UpdateOptions{})
	}
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("update pod status: %w", err)
	}
	return true, nil
}
