package nodeagent

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/drover-ci/drover/cluster/container"
	"github.com/drover-ci/drover/cluster/probe"
)

// slowProber blocks until its probe's ctx ends, then takes a moment more to return.
type slowProber struct {
	started chan struct{}
	done    atomic.Bool
}

func (p *slowProber) Probe(ctx context.Context, _ *corev1.Probe, _ probe.Target) (probe.Result, string, error) {
	close(p.started)
	<-ctx.Done()
	time.Sleep(100 * time.Millisecond)
	p.done.Store(true)
	return probe.Failure, "stopped", nil
}

// TestShutdownWaits: the agent's shutdown returns only once its goroutines (a pod sync in
// flight) and its probe workers are done, so none records an event on a stopped broadcaster,
// and no probe starts after it.
func TestShutdownWaits(t *testing.T) {
	fc := clocktesting.NewFakeClock(unitEpoch)
	prober := &slowProber{started: make(chan struct{})}
	a := &Agent{log: testLogger(t), queue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[types.UID]())}
	a.probes = newProbeManager(prober, fc, record.NewFakeRecorder(10), a.queue.Add)
	pod := statusPod("app")
	pod.Spec.Containers[0].LivenessProbe = &corev1.Probe{PeriodSeconds: 10,
		ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}}
	running := newPodView([]container.Container{ctr("c1", "app", 0, container.StateRunning, 0, unitEpoch, time.Time{})})
	a.probes.sync(pod, running)
	<-prober.started

	var wg sync.WaitGroup
	var synced atomic.Bool
	wg.Add(1)
	go func() { // a pod sync in flight
		defer wg.Done()
		time.Sleep(200 * time.Millisecond)
		synced.Store(true)
	}()
	a.shutdown(&wg)
	if !synced.Load() {
		t.Error("shutdown returned before the sync in flight ended")
	}
	if !prober.done.Load() {
		t.Error("shutdown returned before the probe in flight ended")
	}
	pod.Spec.Containers[0].ReadinessProbe = pod.Spec.Containers[0].LivenessProbe
	a.probes.sync(pod, running)
	if n := len(a.probes.workers); n != 0 {
		t.Errorf("%d probe workers started after shutdown", n)
	}
}
