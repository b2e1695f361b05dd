package provider

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover-ci/drover/agents/render"
	"github.com/drover-ci/drover/cloud/config"
)

// Agent states (AgentStatus.State, Metrics.Agents' state label).
const (
	StatePending     = "pending"
	StateStarting    = "starting"
	StateIdle        = "idle"
	StateBusy        = "busy"
	StateTerminating = "terminating"
	// StateOffline is an agent that connected once and is now offline (its
	// connection lost) while its pod runs: neither coming nor idle; after
	// connectTimeout offline it is removed (failure AgentLost).
	StateOffline = "offline"
)

// classify gives an agent its state from Jenkins first (a node online is
// idle or busy whatever the pod's reported phase), then from the pod.
func classify(a *agent) string {
	switch {
	case a.pod.DeletionTimestamp != nil:
		return StateTerminating
	case a.busy():
		return StateBusy
	case a.online():
		return StateIdle
	case a.comp != nil && a.comp.TemporarilyOffline && (a.annotation(AnnotationBuildSeen) != "" || a.connected()):
		// A one-shot agent whose build is done (or a node taken offline in Jenkins).
		return StateTerminating
	}
	switch a.pod.Status.Phase {
	case corev1.PodRunning:
		if a.comp != nil && a.connected() {
			// Connected once, offline now: lost, not starting.
			return StateOffline
		}
		return StateStarting
	case corev1.PodFailed, corev1.PodSucceeded:
		return StateTerminating
	}
	return StatePending
}

// failing are the container waiting reasons that mean the agent cannot start.
var failing = map[string]bool{"ErrImagePull": true, "ImagePullBackOff": true, "ErrImageNeverPull": true,
	"InvalidImageName": true, "CreateContainerError": true, "CrashLoopBackOff": true,
	"CreateContainerConfigError": true}

// waitingReason is the first waiting reason of the pod's containers.
func waitingReason(pod *corev1.Pod) string {
	for _, cs := range append(append([]corev1.ContainerStatus(nil), pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
		if cs.State.Waiting != nil && cs.State.Waiting.Reason != "" {
			return cs.State.Waiting.Reason
		}
	}
	return ""
}

func waitingFailure(pod *corev1.Pod) (string, string) {
	statuses := append(append([]corev1.ContainerStatus(nil), pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
	for _, cs := range statuses {
		if w := cs.State.Waiting; w != nil && failing[w.Reason] {
			return w.Reason, fmt.Sprintf("container %s: %s: %s", cs.Name, w.Reason, w.Message)
		}
	}
	return "", ""
}

// podMessage summarises why a pod is where it is (container states).
func podMessage(pod *corev1.Pod) string {
	var parts []string
	if pod.Status.Reason != "" || pod.Status.Message != "" {
		parts = append(parts, strings.TrimSpace(pod.Status.Reason+" "+pod.Status.Message))
	}
	statuses := append(append([]corev1.ContainerStatus(nil), pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
	for _, cs := range statuses {
		switch {
		case cs.State.Terminated != nil:
			tt := cs.State.Terminated
			parts = append(parts, fmt.Sprintf("container %s terminated: %s (exit code %d) %s", cs.Name, tt.Reason, tt.ExitCode, tt.Message))
		case cs.State.Waiting != nil:
			parts = append(parts, fmt.Sprintf("container %s waiting: %s %s", cs.Name, cs.State.Waiting.Reason, cs.State.Waiting.Message))
		}
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			parts = append(parts, fmt.Sprintf("not scheduled: %s %s", c.Reason, c.Message))
		}
	}
	if len(parts) == 0 {
		return "phase " + string(pod.Status.Phase)
	}
	return strings.TrimSpace(strings.Join(parts, "; "))
}

func pendingTimeout(t config.Template) time.Duration {
	if d := t.PendingTimeout.Duration; d > 0 {
		return d
	}
	return DefaultPendingTimeout
}

func connectTimeout(c *config.Config, t config.Template) time.Duration {
	if d := t.ConnectTimeout.Duration; d > 0 {
		return d
	}
	if d := c.ConnectTimeout.Duration; d > 0 {
		return d
	}
	return DefaultConnectTimeout
}

// stamp formats a time for an annotation.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// parseStamp reads an annotation time, def when absent or bad.
func parseStamp(s string, def time.Time) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t
	}
	return def
}

// Reasons an agent was lost to infrastructure (RequeueStatus.Reason, the
// Lost metric's reason label).
const (
	LostPodDeleted  = "PodDeleted"
	LostEvicted     = "Evicted"
	LostNodeLost    = "NodeLost"
	LostOOMKilled   = "OOMKilled"
	LostKilled      = "Killed"
	LostAgentExited = "AgentExited"
)

// lostReason says why an agent pod that had a build is gone or going ("":
// it is not): deleted or evicted, its node lost, its container OOM-killed,
// killed by a signal, or ended by itself. A pod drover retires carries
// AnnotationRetiring and is never lost.
func lostReason(a *agent, nodes map[string]*corev1.Node) (string, string) {
	pod := a.pod
	if a.annotation(AnnotationRetiring) != "" {
		return "", ""
	}
	if pod.Status.Reason == "Evicted" {
		return LostEvicted, "pod evicted: " + pod.Status.Message
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if t := cs.State.Terminated; t != nil && cs.Name == render.AgentContainer {
			switch {
			case t.Reason == "OOMKilled":
				return LostOOMKilled, fmt.Sprintf("container %s OOM-killed (exit code %d)", cs.Name, t.ExitCode)
			case t.ExitCode >= 128 || t.Signal != 0:
				return LostKilled, fmt.Sprintf("container %s killed (exit code %d)", cs.Name, t.ExitCode)
			default:
				return LostAgentExited, fmt.Sprintf("container %s exited (exit code %d) %s", cs.Name, t.ExitCode, t.Reason)
			}
		}
	}
	if pod.DeletionTimestamp != nil {
		return LostPodDeleted, "pod deleted while its agent had a build"
	}
	if pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded {
		return LostAgentExited, fmt.Sprintf("pod %s: %s", pod.Status.Phase, podMessage(pod))
	}
	if n := pod.Spec.NodeName; n != "" && nodes != nil && !nodeReady(nodes[n]) && !a.online() {
		return LostNodeLost, fmt.Sprintf("node %s lost (gone or not ready)", n)
	}
	return "", ""
}

// nodeReady reports whether node exists and is Ready.
func nodeReady(n *corev1.Node) bool {
	if n == nil {
		return false
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return true // no condition yet: not known to be lost
}
