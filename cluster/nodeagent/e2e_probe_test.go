package nodeagent_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func httpProbe(port int) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(int32(port))}},
		PeriodSeconds: 1, FailureThreshold: 1, TimeoutSeconds: 2}
}

// A failing liveness probe restarts the container (Unhealthy, then Killing), and readiness
// drives the Ready condition both ways.
func TestE2EProbes(t *testing.T) {
	t.Parallel()
	e := startE2E(t, e2eOptions{})

	live := serverContainer("web", 8080)
	live.LivenessProbe = httpProbe(8080)
	live.LivenessProbe.FailureThreshold = 3 // a slow answer on a busy machine is no reason to restart
	live.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}
	live.LivenessProbe.HTTPGet.Port = intstr.FromString("http")
	e.create(testPod("live", live))

	ready := serverContainer("web", 8080)
	ready.ReadinessProbe = httpProbe(8080)
	e.create(testPod("ready", ready))

	p := e.waitRunning("live")
	before := status(p, "web").ContainerID
	mustHTTP(t, "POST", "http://"+p.Status.PodIP+":8080/fail")
	p = e.waitPod("live", 20*time.Second, "restarted by liveness", func(p *corev1.Pod) bool {
		s := status(p, "web")
		return s.RestartCount >= 1 && s.State.Running != nil && s.ContainerID != before
	})
	if lt := status(p, "web").LastTerminationState.Terminated; status(p, "web").RestartCount == 1 && (lt == nil || lt.ContainerID != before) {
		t.Errorf("lastState = %+v, want the killed container %s", lt, before)
	}
	e.waitEvent("live", "Unhealthy", "Liveness probe failed")
	e.waitEvent("live", "Killing", "failed liveness probe")
	// The new container is healthy (the failure switch was the old process's): no more restarts.
	if code, _, err := httpDo("GET", "http://"+p.Status.PodIP+":8080/healthz"); err != nil || code != 200 {
		t.Errorf("new container /healthz: %d %v", code, err)
	}

	p = e.waitRunning("ready")
	ip := "http://" + p.Status.PodIP + ":8080"
	mustHTTP(t, "POST", ip+"/fail")
	p = e.waitPod("ready", 10*time.Second, "not ready", func(p *corev1.Pod) bool { return !podReady(p) })
	if s := status(p, "web"); s.Ready || s.State.Running == nil || s.RestartCount != 0 {
		t.Errorf("after readiness failure: %s, want running, not ready, no restart", describeStatus(p))
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.ContainersReady && c.Status != corev1.ConditionFalse {
			t.Errorf("ContainersReady = %s, want False", c.Status)
		}
	}
	e.waitEvent("ready", "Unhealthy", "Readiness probe failed")
	mustHTTP(t, "POST", ip+"/ok")
	e.waitPod("ready", 10*time.Second, "ready again", podReady)
}
