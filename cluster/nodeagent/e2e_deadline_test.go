package nodeagent_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover-ci/drover/cluster/container"
)

// A pod active longer than its activeDeadlineSeconds is ended as the kubelet ends it: its
// containers killed, phase Failed with reason DeadlineExceeded and the kubelet's message, a
// DeadlineExceeded event; a restartPolicy Always does not bring it back.
func TestE2EActiveDeadlineSeconds(t *testing.T) {
	t.Parallel()
	e := startE2E(t, e2eOptions{})
	pod := testPod("deadline", shellCmd("app", "exec sleep 3600"))
	deadline := int64(2)
	pod.Spec.ActiveDeadlineSeconds = &deadline
	uid := e.create(pod).UID
	p := e.waitPod("deadline", 60*time.Second, "Failed", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodFailed
	})
	if p.Status.Reason != "DeadlineExceeded" || p.Status.Message != "Pod was active on the node longer than the specified deadline" {
		t.Errorf("reason %q message %q", p.Status.Reason, p.Status.Message)
	}
	if term := status(p, "app").State.Terminated; term == nil {
		t.Errorf("app not terminated: %s", describeStatus(p))
	}
	e.waitEvent("deadline", "DeadlineExceeded: Pod was active on the node longer than the specified deadline")
	e.poll(30*time.Second, "no container of the pod running", func() (bool, string) {
		for _, c := range e.containers(string(uid)) {
			if c.State == container.StateRunning {
				return false, c.Name + " runs"
			}
		}
		return true, ""
	})
	if got := e.get("deadline"); got.Status.Phase != corev1.PodFailed || status(got, "app").RestartCount != 0 {
		t.Errorf("after the deadline: %s", describeStatus(got))
	}
}
