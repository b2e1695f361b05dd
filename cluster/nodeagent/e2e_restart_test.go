package nodeagent_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/drover-ci/drover/cluster/nodeagent"
)

// A container that keeps failing is restarted with growing delays (immediately, then 10 s,
// then 20 s) and shows CrashLoopBackOff while it waits.
func TestE2ECrashLoopBackOff(t *testing.T) {
	t.Parallel()
	e := startE2E(t, e2eOptions{})
	pod := e.create(testPod("crash", exitContainer("boom", map[string]string{"EXIT_CODE": "1"})))

	// The engine keeps the two newest attempts; watch them all go by and note when each started.
	started := map[int]time.Time{}
	sawBackOff := false
	deadline := time.Now().Add(45 * time.Second)
	for len(started) < 4 || !sawBackOff {
		if time.Now().After(deadline) {
			t.Fatalf("after 45s: attempts started %v, CrashLoopBackOff seen %v; %s", started, sawBackOff, describeStatus(e.get("crash")))
		}
		for _, c := range e.containers(string(pod.UID)) {
			if c.Labels[nodeagent.LabelContainer] != "boom" || c.StartedAt.IsZero() {
				continue
			}
			var n int
			for _, r := range c.Labels[nodeagent.LabelAttempt] {
				n = n*10 + int(r-'0')
			}
			started[n] = c.StartedAt
		}
		p := e.get("crash")
		if w := status(p, "boom").State.Waiting; w != nil && w.Reason == "CrashLoopBackOff" {
			sawBackOff = true
			if p.Status.Phase != corev1.PodRunning {
				t.Errorf("phase %s while in back-off, want Running", p.Status.Phase)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	gap := func(i int) time.Duration { return started[i].Sub(started[i-1]) }
	t.Logf("restart gaps: %v %v %v", gap(1), gap(2), gap(3))
	if gap(1) > 3*time.Second {
		t.Errorf("first restart after %v, want at once", gap(1))
	}
	if gap(2) < 9500*time.Millisecond || gap(2) > 13*time.Second {
		t.Errorf("second restart after %v, want ~10s", gap(2))
	}
	if gap(3) < 19500*time.Millisecond || gap(3) > 24*time.Second {
		t.Errorf("third restart after %v, want ~20s", gap(3))
	}
	e.waitEvent("crash", "BackOff", "Back-off restarting failed container boom")
}

// restartPolicy Never and OnFailure end pods in Failed or Succeeded with the exit codes and
// reasons of their containers; a container over its memory limit is OOMKilled.
func TestE2ERestartPolicies(t *testing.T) {
	t.Parallel()
	e := startE2E(t, e2eOptions{})
	mk := func(name string, policy corev1.RestartPolicy, env map[string]string) {
		p := testPod(name, exitContainer("main", env))
		p.Spec.RestartPolicy = policy
		e.create(p)
	}
	mk("never-fails", corev1.RestartPolicyNever, map[string]string{"EXIT_CODE": "3"})
	mk("never-ok", corev1.RestartPolicyNever, nil)
	mk("onfailure-ok", corev1.RestartPolicyOnFailure, map[string]string{"SLEEP": "0.5"})
	mk("onfailure-retries", corev1.RestartPolicyOnFailure, map[string]string{"EXIT_CODE": "2"})
	oom := testPod("oom", exitContainer("main", map[string]string{"ALLOC_MB": "256", "ALLOC_DELAY": "1", "SLEEP": "inf"}))
	oom.Spec.RestartPolicy = corev1.RestartPolicyNever
	oom.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")}
	e.create(oom)

	for _, c := range []struct {
		pod    string
		phase  corev1.PodPhase
		code   int32
		reason string
	}{
		{"never-fails", corev1.PodFailed, 3, "Error"},
		{"never-ok", corev1.PodSucceeded, 0, "Completed"},
		{"onfailure-ok", corev1.PodSucceeded, 0, "Completed"},
		{"oom", corev1.PodFailed, 137, "OOMKilled"},
	} {
		p := e.waitPod(c.pod, 30*time.Second, string(c.phase), func(p *corev1.Pod) bool { return p.Status.Phase == c.phase })
		s := status(p, "main")
		if term := s.State.Terminated; term == nil || term.ExitCode != c.code || term.Reason != c.reason || s.RestartCount != 0 {
			t.Errorf("%s: %s, want terminated %s exit %d without restarts", c.pod, describeStatus(p), c.reason, c.code)
		}
		if podReady(p) {
			t.Errorf("%s: Ready after it finished", c.pod)
		}
	}
	// OnFailure restarts a failing container; the pod stays Running.
	p := e.waitPod("onfailure-retries", 30*time.Second, "restarted", func(p *corev1.Pod) bool { return status(p, "main").RestartCount >= 1 })
	if p.Status.Phase != corev1.PodRunning {
		t.Errorf("onfailure-retries: phase %s, want Running", p.Status.Phase)
	}
	if lt := status(p, "main").LastTerminationState.Terminated; lt == nil || lt.ExitCode != 2 {
		t.Errorf("onfailure-retries: lastState %+v, want exit 2", lt)
	}
	// A finished pod's infra container is stopped; its app containers stay for their logs.
	e.poll(15*time.Second, "infra of never-ok stopped", func() (bool, string) {
		for _, c := range e.containers(string(e.get("never-ok").UID)) {
			if c.State == "running" {
				return false, c.Name + " runs"
			}
		}
		return true, ""
	})
}
