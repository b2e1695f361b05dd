package nodeagent

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/drover-ci/drover/cluster/container"
	"github.com/drover-ci/drover/cluster/probe"
)

// answer is a Prober that gives every attempt the same result.
type answer probe.Result

func (a answer) Probe(context.Context, *corev1.Probe, probe.Target) (probe.Result, string, error) {
	return probe.Result(a), "HTTP probe failed with statuscode: 500", nil
}

// TestProbeManagerOnlyReports: a failing liveness probe records an Unhealthy event, caches
// Failure and queues the pod, and does nothing else (the pod worker restarts the container);
// once the container no longer runs, its worker and result are gone.
func TestProbeManagerOnlyReports(t *testing.T) {
	fc := clocktesting.NewFakeClock(unitEpoch)
	rec := record.NewFakeRecorder(10)
	queued := make(chan types.UID, 10)
	m := newProbeManager(answer(probe.Failure), fc, rec, func(uid types.UID) { queued <- uid })
	defer m.stopAll()
	pod := statusPod("app")
	pod.Spec.Containers[0].LivenessProbe = &corev1.Probe{PeriodSeconds: 10, FailureThreshold: 1,
		ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}}
	if got := m.result("c1", probe.Liveness); got != probe.Success {
		t.Fatalf("liveness before any attempt: %s, want success", got)
	}
	m.sync(pod, newPodView([]container.Container{ctr("c1", "app", 0, container.StateRunning, 0, unitEpoch, time.Time{})}))
	select {
	case uid := <-queued:
		if uid != pod.UID {
			t.Errorf("queued pod %q, want %q", uid, pod.UID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a liveness failure did not queue the pod")
	}
	if got := m.result("c1", probe.Liveness); got != probe.Failure {
		t.Errorf("cached liveness %s, want failure", got)
	}
	if ev := <-rec.Events; !strings.HasPrefix(ev, "Warning Unhealthy Liveness probe failed") {
		t.Errorf("event %q, want Unhealthy", ev)
	}
	m.sync(pod, newPodView([]container.Container{ctr("c1", "app", 0, container.StateExited, 143, unitEpoch, fc.Now())}))
	if got := m.result("c1", probe.Liveness); got != probe.Success {
		t.Errorf("liveness of a container that no longer runs: %s, want the initial success", got)
	}
}
