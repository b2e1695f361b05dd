package nodeagent_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// A container's termination message is what it wrote to its terminationMessagePath (the
// default /dev/termination-log, writable by a non-root user; or a path of its own), or with
// FallbackToLogsOnError, when it failed without writing one, the last 80 lines of its log;
// in state.terminated.message and, once restarted, lastState.
func TestE2ETerminationMessage(t *testing.T) {
	t.Parallel()
	e := startE2E(t, e2eOptions{})
	user := int64(1000)
	file := shellCmd("file", `printf 'done right' >/dev/termination-log; exit 0`)
	file.SecurityContext = &corev1.SecurityContext{RunAsUser: &user}
	custom := shellCmd("custom", `printf 'from custom' >/tmp/msg; exit 1`)
	custom.TerminationMessagePath = "/tmp/msg"
	fallback := shellCmd("fallback", `i=1; while [ $i -le 100 ]; do printf 'line-%03d\n' $i; i=$((i+1)); done; exit 2`)
	fallback.TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
	fallbackOK := shellCmd("fallbackok", `echo not a message; exit 0`)
	fallbackOK.TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
	pod := testPod("termmsg", file, custom, fallback, fallbackOK)
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	e.create(pod)
	p := e.waitPod("termmsg", 60*time.Second, "all terminated", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodFailed
	})
	var tail strings.Builder
	for i := 21; i <= 100; i++ {
		fmt.Fprintf(&tail, "line-%03d\n", i)
	}
	for name, want := range map[string]string{"file": "done right", "custom": "from custom", "fallback": tail.String(), "fallbackok": ""} {
		term := status(p, name).State.Terminated
		if term == nil {
			t.Errorf("%s: not terminated: %s", name, describeStatus(p))
			continue
		}
		if term.Message != want {
			t.Errorf("%s: message %q, want %q", name, term.Message, want)
		}
	}

	again := shellCmd("again", `printf 'attempt' >/dev/termination-log; exit 1`)
	restarted := testPod("restarted", again)
	restarted.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	e.create(restarted)
	p = e.waitPod("restarted", 60*time.Second, "restarted once", func(p *corev1.Pod) bool {
		return status(p, "again").RestartCount >= 1 && status(p, "again").LastTerminationState.Terminated != nil
	})
	if got := status(p, "again").LastTerminationState.Terminated.Message; got != "attempt" {
		t.Errorf("lastState message %q, want attempt", got)
	}
}
