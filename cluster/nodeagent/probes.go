package nodeagent

import (
	"context"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cluster/probe"
)

// Prober runs one probe attempt (cluster/probe.Real for real containers; the hollow runtime
// has its own).
type Prober = probe.Prober

// probeManager runs the liveness and readiness probes of running containers and keeps their
// latest results (the kubelet's prober manager and results cache). It only reports: a changed
// result queues the pod (onChange), and the pod worker acts on it, restarting a container whose
// liveness failed and counting readiness into the Ready condition.
type probeManager struct {
	prober   Prober
	clock    clock.Clock
	recorder record.EventRecorder
	onChange func(types.UID)

	mu      sync.Mutex
	workers map[probeKey]*probeEntry
	results map[probeKey]probe.Result // what changed from a worker's initial result
	stopped bool                      // stopAll was called: no more workers start
	running sync.WaitGroup            // the workers' goroutines (Add under mu, before stopped)
}

// probeKey names one probe of one container instance.
type probeKey struct {
	containerID string
	kind        probe.Kind
}

type probeEntry struct {
	pod    types.UID
	cancel context.CancelFunc
}

func newProbeManager(prober Prober, clk clock.Clock, recorder record.EventRecorder, onChange func(types.UID)) *probeManager {
	return &probeManager{prober: prober, clock: clk, recorder: recorder, onChange: onChange,
		workers: map[probeKey]*probeEntry{}, results: map[probeKey]probe.Result{}}
}

// sync starts workers for the probes of pod's running app containers and stops (and forgets
// the results of) those whose containers no longer run.
func (m *probeManager) sync(pod *corev1.Pod, view *podView) {
	live := map[probeKey]bool{}
	podIP := ""
	if running(view.infra) {
		podIP = view.infra.IP
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		cur := view.current(c.Name)
		if !running(cur) {
			continue
		}
		target := probe.Target{PodIP: podIP, Container: c, ContainerID: cur.ID}
		for kind, p := range map[probe.Kind]*corev1.Probe{probe.Liveness: c.LivenessProbe, probe.Readiness: c.ReadinessProbe} {
			if p != nil {
				live[probeKey{cur.ID, kind}] = true
				m.start(pod, probe.WorkerConfig{Kind: kind, Probe: p, Target: target, StartedAt: cur.StartedAt})
			}
		}
	}
	m.stop(func(key probeKey, e *probeEntry) bool { return e.pod == pod.UID && !live[key] })
}

// start runs a worker for probe cfg.Kind of cfg.Target unless one runs.
func (m *probeManager) start(pod *corev1.Pod, cfg probe.WorkerConfig) {
	key := probeKey{cfg.Target.ContainerID, cfg.Kind}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.workers[key]; ok || m.stopped {
		return
	}
	podRef := pod.DeepCopy()
	cfg.Prober, cfg.Clock = m.prober, m.clock
	cfg.OnAttempt = func(u probe.Update) {
		if u.Result == probe.Failure {
			m.recorder.Eventf(podRef, corev1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", key.kind, strings.TrimSpace(u.Message))
		}
	}
	cfg.OnChange = func(u probe.Update) { m.changed(podRef.UID, key, u.Result) }
	ctx, cancel := context.WithCancel(context.Background())
	m.workers[key] = &probeEntry{pod: pod.UID, cancel: cancel}
	m.running.Add(1)
	go func() {
		defer m.running.Done()
		probe.NewWorker(cfg).Run(ctx)
	}()
}

// changed caches a worker's new result and queues its pod.
func (m *probeManager) changed(uid types.UID, key probeKey, r probe.Result) {
	m.mu.Lock()
	_, running := m.workers[key]
	if running {
		m.results[key] = r
	}
	m.mu.Unlock()
	if running {
		m.onChange(uid)
	}
}

// result returns the latest result of probe kind of container id: the kind's initial result
// until its worker has decided otherwise.
func (m *probeManager) result(id string, kind probe.Kind) probe.Result {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.results[probeKey{id, kind}]; ok {
		return r
	}
	return kind.Initial()
}

// ready reports whether container id of c passes its readiness probe (true without one).
func (m *probeManager) ready(id string, c *corev1.Container) bool {
	return c.ReadinessProbe == nil || m.result(id, probe.Readiness) == probe.Success
}

// forgetPod stops the workers of a pod.
func (m *probeManager) forgetPod(uid types.UID) {
	m.stop(func(_ probeKey, e *probeEntry) bool { return e.pod == uid })
}

// stopAll stops every worker and starts no more; wait then waits for their goroutines (and
// so for their callbacks) to end.
func (m *probeManager) stopAll() {
	m.mu.Lock()
	m.stopped = true
	m.mu.Unlock()
	m.stop(func(probeKey, *probeEntry) bool { return true })
}

func (m *probeManager) wait() { m.running.Wait() }

// stop stops the workers that match and forgets their results.
func (m *probeManager) stop(match func(probeKey, *probeEntry) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, e := range m.workers {
		if match(key, e) {
			e.cancel()
			delete(m.workers, key)
			delete(m.results, key)
		}
	}
}
