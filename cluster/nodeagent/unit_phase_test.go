package nodeagent

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

// Container states for podPhase.
var (
	stWaiting  = corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}
	stRunning  = corev1.ContainerStatus{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	stExit0    = corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}}
	stExit1    = corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}}
	stBackOff1 = corev1.ContainerStatus{ // CrashLoopBackOff after exit 1
		State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}}
	stBackOff0 = corev1.ContainerStatus{ // waiting to restart after exit 0 (Always)
		State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}}
)

// TestPodPhase checks podPhase against the kubelet's getPhase for every restart policy.
func TestPodPhase(t *testing.T) {
	const A, O, N = corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever
	type row struct {
		states           []corev1.ContainerStatus
		always, onf, nev corev1.PodPhase
	}
	P, R, S, F := corev1.PodPending, corev1.PodRunning, corev1.PodSucceeded, corev1.PodFailed
	rows := map[string]row{
		"no containers":           {nil, P, P, P},
		"waiting":                 {[]corev1.ContainerStatus{stWaiting}, P, P, P},
		"waiting and running":     {[]corev1.ContainerStatus{stWaiting, stRunning}, P, P, P},
		"running":                 {[]corev1.ContainerStatus{stRunning}, R, R, R},
		"running and exited 0":    {[]corev1.ContainerStatus{stRunning, stExit0}, R, R, R},
		"running and exited 1":    {[]corev1.ContainerStatus{stRunning, stExit1}, R, R, R},
		"exited 0":                {[]corev1.ContainerStatus{stExit0}, R, S, S},
		"exited 1":                {[]corev1.ContainerStatus{stExit1}, R, R, F},
		"exited 0 and 1":          {[]corev1.ContainerStatus{stExit0, stExit1}, R, R, F},
		"exited 0 and 0":          {[]corev1.ContainerStatus{stExit0, stExit0}, R, S, S},
		"back-off after 1":        {[]corev1.ContainerStatus{stBackOff1}, R, R, F},
		"back-off after 0":        {[]corev1.ContainerStatus{stBackOff0}, R, R, F},
		"back-off and running":    {[]corev1.ContainerStatus{stBackOff1, stRunning}, R, R, R},
		"back-off and exited 0":   {[]corev1.ContainerStatus{stBackOff1, stExit0}, R, R, F},
		"waiting and back-off":    {[]corev1.ContainerStatus{stWaiting, stBackOff1}, P, P, P},
		"exited 0 with lastState": {[]corev1.ContainerStatus{{State: stExit0.State, LastTerminationState: stExit1.State}}, R, S, S},
	}
	for name, r := range rows {
		for _, c := range []struct {
			policy corev1.RestartPolicy
			want   corev1.PodPhase
		}{{A, r.always}, {O, r.onf}, {N, r.nev}, {"", r.always}} {
			if got := podPhase(c.policy, r.states); got != c.want {
				t.Errorf("%s, restartPolicy %q: phase %s, want %s", name, c.policy, got, c.want)
			}
		}
	}
}

func TestShouldRestart(t *testing.T) {
	for _, c := range []struct {
		policy corev1.RestartPolicy
		code   int
		want   bool
	}{
		{corev1.RestartPolicyAlways, 0, true}, {corev1.RestartPolicyAlways, 1, true},
		{corev1.RestartPolicyOnFailure, 0, false}, {corev1.RestartPolicyOnFailure, 137, true},
		{corev1.RestartPolicyNever, 0, false}, {corev1.RestartPolicyNever, 1, false},
	} {
		if got := shouldRestart(c.policy, c.code); got != c.want {
			t.Errorf("shouldRestart(%s, %d) = %v", c.policy, c.code, got)
		}
	}
}

func TestBackoffDoublesToFiveMinutes(t *testing.T) {
	fc := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	b := newBackoff(fc)
	const key = "uid/c"
	if d := b.remaining(key, fc.Now()); d != 0 {
		t.Fatalf("remaining before any failure = %s, want 0", d)
	}
	want := []time.Duration{10, 20, 40, 80, 160, 300, 300, 300}
	for i, w := range want {
		w *= time.Second
		b.advance(key, time.Second) // ran for a second, then failed
		failed := fc.Now()
		if d := b.remaining(key, failed); d != w {
			t.Fatalf("attempt %d: remaining at failure = %s, want %s", i+1, d, w)
		}
		fc.Step(w - time.Second)
		if d := b.remaining(key, failed); d != time.Second {
			t.Fatalf("attempt %d: remaining 1s before the end = %s", i+1, d)
		}
		fc.Step(time.Second)
		if d := b.remaining(key, failed); d != 0 {
			t.Fatalf("attempt %d: remaining after %s = %s, want 0", i+1, w, d)
		}
	}
	// A container that ran for 10 minutes starts over at 10 s.
	b.advance(key, 10*time.Minute)
	if d := b.remaining(key, fc.Now()); d != 10*time.Second {
		t.Errorf("after 10 min running: remaining = %s, want 10s", d)
	}
	b.advance(key, 9*time.Minute+59*time.Second)
	if d := b.remaining(key, fc.Now()); d != 20*time.Second {
		t.Errorf("after 9m59s running: remaining = %s, want 20s (no reset)", d)
	}
}

// TestForgetPodDropsBackoff: a pod's restart and pull back-offs go with its worker; another
// pod keeps its own.
func TestForgetPodDropsBackoff(t *testing.T) {
	a, fc := unitAgent(t, nil)
	u1, u2 := a.podWorker("u1"), a.podWorker("u2")
	for _, w := range []*podWorker{u1, u2} {
		w.restarts.advance("a", 0)
		w.restarts.advance("b", 0)
		w.pulls.advance("a", 0)
	}
	a.forget(u1)
	u1 = a.podWorker("u1")
	for name, c := range map[string]struct {
		b    *backoff
		key  string
		want time.Duration
	}{
		"u1 restart a": {u1.restarts, "a", 0}, "u1 restart b": {u1.restarts, "b", 0}, "u1 pull a": {u1.pulls, "a", 0},
		"u2 restart a": {u2.restarts, "a", 10 * time.Second}, "u2 pull a": {u2.pulls, "a", 10 * time.Second},
	} {
		if d := c.b.remaining(c.key, fc.Now()); d != c.want {
			t.Errorf("after forgetting u1: remaining(%s) = %s, want %s", name, d, c.want)
		}
	}
}
