package nodeagent

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func httpGetProbe(period, failures int32) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
		PeriodSeconds: period, FailureThreshold: failures, SuccessThreshold: 1, TimeoutSeconds: 1}
}

func containerID(cs corev1.ContainerStatus) string {
	return strings.TrimPrefix(cs.ContainerID, "docker://")
}

func TestHollowLivenessRestarts(t *testing.T) {
	h := startHollow(t)
	c := hollowContainer("server")
	c.LivenessProbe = httpGetProbe(2, 3)
	h.create(hollowPod("live", c))
	p := h.waitPod("live", "Running", func(p *corev1.Pod) bool { return statusOf(p, "server").State.Running != nil })
	first := containerID(statusOf(p, "server"))
	if err := h.rt.SetHTTPHealth(first, false); err != nil {
		t.Fatal(err)
	}
	p = h.waitPod("live", "restarted after liveness failure", func(p *corev1.Pod) bool {
		cs := statusOf(p, "server")
		return cs.RestartCount == 1 && cs.State.Running != nil
	})
	cs := statusOf(p, "server")
	if containerID(cs) == first {
		t.Error("same container after a liveness restart")
	}
	// Killed with SIGTERM: 143, Error.
	if lt := cs.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 143 || lt.Reason != "Error" {
		t.Errorf("last termination %+v, want exit 143 (SIGTERM)", lt)
	}
	h.waitEvents("live", "Unhealthy", "Killing")
	var unhealthy, killing string
	for _, e := range h.events("live") {
		switch {
		case strings.HasPrefix(e, "Unhealthy:"):
			unhealthy = e
		case strings.HasPrefix(e, "Killing:"):
			killing = e
		}
	}
	if !strings.Contains(unhealthy, "Liveness probe failed") || !strings.Contains(killing, "failed liveness probe, will be restarted") {
		t.Errorf("events %q and %q", unhealthy, killing)
	}
	// The new container is healthy (health is per container): no further restart for a while.
	before := h.fc.Now()
	h.poll(20*time.Second, "30 s of fake time", func() (bool, string) { return h.fc.Since(before) > 30*time.Second, "" })
	if p, _ := h.get("live"); statusOf(p, "server").RestartCount != 1 {
		t.Errorf("restartCount %d after the restart, want 1", statusOf(p, "server").RestartCount)
	}
}

func TestHollowReadiness(t *testing.T) {
	h := startHollow(t)
	c := hollowContainer("server", "HOLLOW_HTTP_HEALTHY=false")
	c.ReadinessProbe = httpGetProbe(1, 1)
	h.create(hollowPod("ready", c))
	p := h.waitPod("ready", "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	if isReady(p) || statusOf(p, "server").Ready {
		t.Fatalf("Ready while the readiness probe fails: %s", describe(p))
	}
	id := containerID(statusOf(p, "server"))
	if err := h.rt.SetHTTPHealth(id, true); err != nil {
		t.Fatal(err)
	}
	h.waitPod("ready", "Ready", func(p *corev1.Pod) bool { return isReady(p) && statusOf(p, "server").Ready })
	if err := h.rt.SetHTTPHealth(id, false); err != nil {
		t.Fatal(err)
	}
	p = h.waitPod("ready", "not Ready again", func(p *corev1.Pod) bool { return !isReady(p) })
	// Readiness never restarts a container.
	if cs := statusOf(p, "server"); cs.RestartCount != 0 || cs.State.Running == nil {
		t.Errorf("readiness failure changed the container: %+v", cs)
	}
}
