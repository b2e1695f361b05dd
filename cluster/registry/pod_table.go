package registry

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// podTable prints pods: NAME READY STATUS RESTARTS AGE, and IP NODE NOMINATED-NODE READINESS-GATES with -o wide.
func podTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic.", 0),
			column("Status", "string", "The aggregate status of the containers in this pod.", 0),
			column("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.", 0),
			ageColumn,
			column("IP", "string", corev1.PodStatus{}.SwaggerDoc()["podIP"], 1),
			column("Node", "string", corev1.PodSpec{}.SwaggerDoc()["nodeName"], 1),
			column("Nominated Node", "string", corev1.PodStatus{}.SwaggerDoc()["nominatedNodeName"], 1),
			column("Readiness Gates", "string", "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\". More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates", 1),
		},
		Row: func(obj runtime.Object) ([]interface{}, error) { return podRow(obj.(*corev1.Pod)), nil },
	}
}

// podRow is one row of `kubectl get pods` (wide columns included), computed like kubectl's
// printPod.
func podRow(pod *corev1.Pod) []interface{} {
	s := podSummarize(pod)
	restarts := strconv.Itoa(s.restarts)
	if s.restarts != 0 && !s.lastRestart.IsZero() {
		restarts = fmt.Sprintf("%d (%s ago)", s.restarts, translateTimestampSince(s.lastRestart))
	}
	podIP := pod.Status.PodIP
	if len(pod.Status.PodIPs) > 0 {
		podIP = pod.Status.PodIPs[0].IP
	}
	return []interface{}{
		pod.Name, fmt.Sprintf("%d/%d", s.ready, s.total), s.reason, restarts,
		translateTimestampSince(pod.CreationTimestamp),
		stringOrNone(podIP), stringOrNone(pod.Spec.NodeName), stringOrNone(pod.Status.NominatedNodeName),
		podReadinessGates(pod),
	}
}

// podSummary is what kubectl derives from a pod's container statuses.
type podSummary struct {
	ready, total, restarts int
	reason                 string
	lastRestart            metav1.Time
}

// podSummarize follows kubectl's printPod: init containers first, then app containers from
// last to first, the reason of the last interesting state winning.
func podSummarize(pod *corev1.Pod) podSummary {
	s := podSummary{total: len(pod.Spec.Containers), reason: string(pod.Status.Phase)}
	if pod.Status.Reason != "" {
		s.reason = pod.Status.Reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			s.reason = corev1.PodReasonSchedulingGated
		}
	}
	sidecars := map[string]bool{}
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars[c.Name] = true
			s.total++
		}
	}
	initializing, sidecarRestarts, sidecarLast := podSummarizeInit(pod, sidecars, &s)
	if !initializing || podConditionTrue(pod.Status.Conditions, corev1.PodInitialized) {
		s.restarts, s.lastRestart = sidecarRestarts, sidecarLast
		podSummarizeApp(pod, &s)
	}
	if pod.DeletionTimestamp != nil && pod.Status.Reason == "NodeLost" {
		s.reason = "Unknown"
	} else if pod.DeletionTimestamp != nil && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
		s.reason = "Terminating"
	}
	return s
}

// podSummarizeInit walks the init container statuses; it reports whether the pod is still
// initializing and the restarts (and last restart) of sidecar containers alone.
func podSummarizeInit(pod *corev1.Pod, sidecars map[string]bool, s *podSummary) (bool, int, metav1.Time) {
	sidecarRestarts, sidecarLast := 0, metav1.Time{}
	for i, c := range pod.Status.InitContainerStatuses {
		s.restarts += int(c.RestartCount)
		podLaterRestart(&s.lastRestart, c.LastTerminationState)
		if sidecars[c.Name] {
			sidecarRestarts += int(c.RestartCount)
			podLaterRestart(&sidecarLast, c.LastTerminationState)
		}
		t, w := c.State.Terminated, c.State.Waiting
		switch {
		case t != nil && t.ExitCode == 0:
			continue
		case sidecars[c.Name] && c.Started != nil && *c.Started:
			if c.Ready {
				s.ready++
			}
			continue
		case t != nil:
			s.reason = "Init:" + podTerminatedReason(t)
		case w != nil && w.Reason != "" && w.Reason != "PodInitializing":
			s.reason = "Init:" + w.Reason
		default:
			s.reason = fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers))
		}
		return true, sidecarRestarts, sidecarLast
	}
	return false, sidecarRestarts, sidecarLast
}

// podSummarizeApp walks the app container statuses from last to first.
func podSummarizeApp(pod *corev1.Pod, s *podSummary) {
	hasRunning := false
	for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
		c := pod.Status.ContainerStatuses[i]
		s.restarts += int(c.RestartCount)
		podLaterRestart(&s.lastRestart, c.LastTerminationState)
		switch st := c.State; {
		case st.Waiting != nil && st.Waiting.Reason != "":
			s.reason = st.Waiting.Reason
		case st.Terminated != nil:
			s.reason = podTerminatedReason(st.Terminated)
		case c.Ready && st.Running != nil:
			hasRunning = true
			s.ready++
		}
	}
	if s.reason == "Completed" && hasRunning {
		if podConditionTrue(pod.Status.Conditions, corev1.PodReady) {
			s.reason = "Running"
		} else {
			s.reason = "NotReady"
		}
	}
}

// podTerminatedReason is the reason of a terminated state, or Signal:N / ExitCode:N.
func podTerminatedReason(t *corev1.ContainerStateTerminated) string {
	switch {
	case t.Reason != "":
		return t.Reason
	case t.Signal != 0:
		return fmt.Sprintf("Signal:%d", t.Signal)
	default:
		return fmt.Sprintf("ExitCode:%d", t.ExitCode)
	}
}

// podLaterRestart moves last to the finish time of a previous termination if that is later.
func podLaterRestart(last *metav1.Time, prev corev1.ContainerState) {
	if t := prev.Terminated; t != nil && last.Before(&t.FinishedAt) {
		*last = t.FinishedAt
	}
}

// podConditionTrue reports whether the condition of type t is True.
func podConditionTrue(conds []corev1.PodCondition, t corev1.PodConditionType) bool {
	for _, c := range conds {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podReadinessGates renders "true/total" readiness gates, or "<none>".
func podReadinessGates(pod *corev1.Pod) string {
	if len(pod.Spec.ReadinessGates) == 0 {
		return "<none>"
	}
	n := 0
	for _, g := range pod.Spec.ReadinessGates {
		if podConditionTrue(pod.Status.Conditions, g.ConditionType) {
			n++
		}
	}
	return fmt.Sprintf("%d/%d", n, len(pod.Spec.ReadinessGates))
}
