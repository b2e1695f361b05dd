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

// podStatus computes the pod's status from its containers, as the kubelet does.
func (a *Agent) podStatus(pod *corev1.Pod, view *podView, res *syncResult) corev1.PodStatus {
	st := corev1.PodStatus{QOSClass: pod.Status.QOSClass, HostIP: a.hostIP, StartTime: pod.Status.StartTime}
	if a.hostIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: a.hostIP}}
	}
	a.mu.Lock()
	base, reported := a.reported[pod.UID]
	if st.StartTime == nil {
		t, ok := a.startTime[pod.UID]
		if !ok {
			t = a.cfg.Clock.Now()
			a.startTime[pod.UID] = t
		}
		mt := metav1.NewTime(t.Truncate(time.Second))
		st.StartTime = &mt
	}
	a.mu.Unlock()
	if !reported {
		base = pod.Status
	}
	if running(view.infra) && view.infra.IP != "" {
		st.PodIP = view.infra.IP
		st.PodIPs = []corev1.PodIP{{IP: view.infra.IP}}
	}
	initialized := initDone(pod, view)
	var notInitialized []string
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cs := a.containerStatus(pod, c, view, res)
		// A completed init container is ready; a running one is not (it has no probes).
		t := cs.State.Terminated
		cs.Ready = t != nil && t.ExitCode == 0
		if !cs.Ready {
			notInitialized = append(notInitialized, c.Name)
		}
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
	}
	allReady := true
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		cs := a.containerStatus(pod, c, view, res)
		if !cs.Ready {
			allReady = false
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	st.Phase = podPhase(pod.Spec.RestartPolicy, st.ContainerStatuses)
	if !initialized {
		st.Phase = initPhase(pod.Spec.RestartPolicy, st.InitContainerStatuses)
		allReady = false
	}
	if st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed {
		allReady = false
	}
	now := metav1.NewTime(a.cfg.Clock.Now().Truncate(time.Second))
	cond := func(t corev1.PodConditionType, ok bool, reason string) corev1.PodCondition {
		s, message := corev1.ConditionFalse, ""
		if ok {
			s, reason = corev1.ConditionTrue, ""
		} else if t == corev1.PodInitialized {
			message = fmt.Sprintf("containers with incomplete status: %v", notInitialized)
		}
		c := corev1.PodCondition{Type: t, Status: s, Reason: reason, Message: message, LastTransitionTime: now}
		for _, old := range base.Conditions {
			if old.Type == t && old.Status == s {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
		return c
	}
	notReadyReason := "ContainersNotReady"
	if st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed {
		notReadyReason = "PodCompleted"
	}
	st.Conditions = []corev1.PodCondition{
		cond(corev1.PodInitialized, initialized, "ContainersNotInitialized"),
		cond(corev1.PodReady, allReady, notReadyReason),
		cond(corev1.ContainersReady, allReady, notReadyReason),
		cond(corev1.PodScheduled, true, ""),
	}
	return st
}

// containerStatus describes the newest attempt of c (and the one before it).
func (a *Agent) containerStatus(pod *corev1.Pod, c *corev1.Container, view *podView, res *syncResult) corev1.ContainerStatus {
	cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image}
	cur, prev := view.current(c.Name), view.previous(c.Name)
	if cur != nil {
		cs.RestartCount = int32(attemptOf(*cur))
		cs.ContainerID = "docker://" + cur.ID
		cs.ImageID = cur.ImageID
	}
	if prev != nil {
		cs.LastTerminationState = corev1.ContainerState{Terminated: terminated(prev)}
	}
	w, isWaiting := res.waiting[c.Name]
	switch {
	case cur != nil && cur.State == container.StateRunning:
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(cur.StartedAt)}
		started := true
		cs.Started = &started
		cs.Ready = a.probes.ready(cur.ID, c)
	case cur != nil && cur.State == container.StateExited && !isWaiting:
		cs.State.Terminated = terminated(cur)
		f := false
		cs.Started = &f
	case cur != nil && cur.State == container.StateExited:
		// Waiting to restart: the exited attempt is the last termination.
		cs.LastTerminationState = corev1.ContainerState{Terminated: terminated(cur)}
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: w.reason, Message: w.message}
	default:
		if !isWaiting {
			w = waiting{reason: "ContainerCreating"}
		}
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: w.reason, Message: w.message}
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

// updateStatus writes status when it differs from what was last reported.
func (a *Agent) updateStatus(ctx context.Context, pod *corev1.Pod, status corev1.PodStatus) error {
	a.mu.Lock()
	last, ok := a.reported[pod.UID]
	a.mu.Unlock()
	if ok && apiequality.Semantic.DeepEqual(last, status) {
		return nil
	}
	if !ok && apiequality.Semantic.DeepEqual(pod.Status, status) {
		a.mu.Lock()
		a.reported[pod.UID] = status
		a.mu.Unlock()
		return nil
	}
	p := pod.DeepCopy()
	p.Status = status
	_, err := a.cfg.Client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		fresh, gerr := a.cfg.Client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if gerr != nil {
			return fmt.Errorf("get pod for status: %w", gerr)
		}
		if fresh.UID != pod.UID {
			return nil
		}
		fresh.Status = status
		_, err = a.cfg.Client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, fresh, metav1.UpdateOptions{})
	}
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update pod status: %w", err)
	}
	a.mu.Lock()
	a.reported[pod.UID] = status
	a.mu.Unlock()
	return nil
}
