package nodeagent

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// TestHollowCrashLoopBackOff: a container that exits at once is restarted at once, then after
// 10 s, 20 s, 40 s (fake clock), showing CrashLoopBackOff with its last termination between.
func TestHollowCrashLoopBackOff(t *testing.T) {
	h := startHollow(t)
	w, err := h.client.CoreV1().Pods("default").Watch(context.Background(), metav1.ListOptions{FieldSelector: "metadata.name=crash"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	h.create(hollowPod("crash", hollowContainer("app", "HOLLOW_EXIT_CODE=3")))

	// For every attempt n seen as the last termination: when it started and finished.
	type span struct{ started, finished time.Time }
	attempts := map[int32]span{}
	sawBackOff := false
	timeout := time.After(30 * time.Second)
	for len(attempts) < 4 {
		select {
		case ev := <-w.ResultChan():
			if ev.Type != watch.Modified && ev.Type != watch.Added {
				continue
			}
			p := ev.Object.(*corev1.Pod)
			cs := statusOf(p, "app")
			if p.Status.Phase != corev1.PodRunning && p.Status.Phase != corev1.PodPending {
				t.Fatalf("phase %s with restartPolicy Always", p.Status.Phase)
			}
			if w := cs.State.Waiting; w != nil && w.Reason == "CrashLoopBackOff" {
				sawBackOff = true
				if !strings.Contains(w.Message, "back-off") {
					t.Errorf("CrashLoopBackOff message %q", w.Message)
				}
			}
			if lt := cs.LastTerminationState.Terminated; lt != nil {
				if lt.ExitCode != 3 || lt.Reason != "Error" {
					t.Errorf("last termination %+v, want exit 3 Error", lt)
				}
				// restartCount counts attempts after the first: the terminated one is restartCount
				// when waiting, restartCount-1 when a newer one runs or ended.
				n := cs.RestartCount
				if cs.State.Waiting == nil {
					n--
				}
				attempts[n] = span{lt.StartedAt.Time, lt.FinishedAt.Time}
			}
		case <-timeout:
			p, _ := h.get("crash")
			t.Fatalf("saw attempts %v; pod: %s", attempts, describe(p))
		}
	}
	if !sawBackOff {
		t.Error("never saw CrashLoopBackOff")
	}
	// Gaps between the end of attempt n and the start of n+1: 0, 10 s, 20 s (seconds resolution).
	want := []time.Duration{0, 10 * time.Second, 20 * time.Second}
	checked := 0
	for n, d := range want {
		a, b := attempts[int32(n)], attempts[int32(n+1)]
		if a.finished.IsZero() || b.started.IsZero() {
			continue // an attempt the watch coalesced away
		}
		gap := b.started.Sub(a.finished)
		t.Logf("attempt %d started %s after attempt %d ended", n+1, gap, n)
		checked++
		// Never early; late by at most the relist period, the timestamps' second resolution
		// and processing time multiplied by the fake clock's speed (a loaded machine).
		if gap < d-time.Second || gap > d+d/2+3*time.Second {
			t.Errorf("attempt %d started %s after attempt %d ended, want %s", n+1, gap, n, d)
		}
	}
	if checked < 2 {
		t.Errorf("only %d back-off gaps observed (%v)", checked, attempts)
	}
	h.waitEvents("crash", "BackOff")
}

func TestHollowRestartPolicies(t *testing.T) {
	h := startHollow(t)
	cases := []struct {
		name   string
		policy corev1.RestartPolicy
		code   string
		want   corev1.PodPhase
		reason string
	}{
		{"never-ok", corev1.RestartPolicyNever, "0", corev1.PodSucceeded, "Completed"},
		{"never-fail", corev1.RestartPolicyNever, "1", corev1.PodFailed, "Error"},
		{"onfailure-ok", corev1.RestartPolicyOnFailure, "0", corev1.PodSucceeded, "Completed"},
	}
	uids := map[string]string{}
	for _, c := range cases {
		pod := hollowPod(c.name, hollowContainer("job", "HOLLOW_EXIT_CODE="+c.code, "HOLLOW_RUN_FOR=2s"))
		pod.Spec.RestartPolicy = c.policy
		uids[c.name] = string(h.create(pod).UID)
	}
	// OnFailure with a failing container is restarted and stays Running.
	pod := hollowPod("onfailure-fail", hollowContainer("job", "HOLLOW_EXIT_CODE=1"))
	pod.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	h.create(pod)
	for _, c := range cases {
		p := h.waitPod(c.name, string(c.want), func(p *corev1.Pod) bool { return p.Status.Phase == c.want })
		cs := statusOf(p, "job")
		if cs.RestartCount != 0 || cs.State.Terminated == nil || cs.State.Terminated.Reason != c.reason {
			t.Errorf("%s: container status %+v, want terminated %s without restarts", c.name, cs, c.reason)
		}
		if isReady(p) {
			t.Errorf("%s: finished pod is Ready", c.name)
		}
	}
	h.waitPod("onfailure-fail", "restarted", func(p *corev1.Pod) bool {
		return statusOf(p, "job").RestartCount >= 2 && p.Status.Phase == corev1.PodRunning
	})
	// The infra containers of finished pods are stopped; their app containers stay for logs.
	for _, c := range cases {
		h.poll(10*time.Second, c.name+" infra container stopped", func() (bool, string) {
			for _, ctr := range h.containers(uids[c.name]) {
				if ctr.State == "running" {
					return false, ctr.Name
				}
			}
			return len(h.containers(uids[c.name])) == 2, "containers"
		})
	}
}
