package nodeagent

import (
	"context"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/drover-ci/drover/cluster/probe"
)

// Prober runs one probe attempt (cluster/probe.Real for real containers; the hollow runtime
// has its own).
type Prober = probe.Prober

// probeManager runs the liveness and readiness workers of running containers: liveness
// failure restarts the container, readiness drives the Ready condition.
type probeManager struct {
	a       *Agent
	mu      sync.Mutex
	workers map[string]*probeEntry // containerID/kind
}

type probeEntry struct {
	w      *probe.Worker
	cancel context.CancelFunc
	pod    types.UID
}

func newProbeManager(a *Agent) *probeManager {
	return &probeManager{a: a, workers: map[string]*probeEntry{}}
}

// sync starts workers for the running containers of pod and stops those of containers that no
// longer run.
func (m *probeManager) sync(pod *corev1.Pod, view *podView) {
	live := map[string]bool{}
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
		for _, p := range []struct {
			kind  probe.Kind
			probe *corev1.Probe
		}{{probe.Liveness, c.LivenessProbe}, {probe.Readiness, c.ReadinessProbe}} {
			if p.probe == nil {
				continue
			}
			key := cur.ID + "/" + p.kind.String()
			live[key] = true
			m.start(pod, c, key, p.kind, p.probe, probe.Target{PodIP: podIP, Container: c, ContainerID: cur.ID}, cur.StartedAt)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, e := range m.workers {
		if e.pod == pod.UID && !live[key] {
			e.cancel()
			delete(m.workers, key)
		}
	}
}

func (m *probeManager) start(pod *corev1.Pod, c *corev1.Container, key string, kind probe.Kind, p *corev1.Probe, target probe.Target, started time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.workers[key]; ok {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	uid, name, id := pod.UID, c.Name, target.ContainerID
	podRef := pod.DeepCopy()
	w := probe.NewWorker(probe.WorkerConfig{
		Kind: kind, Probe: p, Target: target, Prober: m.a.cfg.Probes, Clock: m.a.cfg.Clock, StartedAt: started,
		OnAttempt: func(u probe.Update) {
			if u.Result == probe.Failure {
				m.a.recorder.Eventf(podRef, corev1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", kind, strings.TrimSpace(u.Message))
			}
		},
		OnChange: func(u probe.Update) {
			if kind == probe.Liveness && u.Result == probe.Failure {
				m.a.recorder.Eventf(podRef, corev1.EventTypeNormal, "Killing", "Container %s failed liveness probe, will be restarted", name)
				if err := m.a.cfg.Runtime.Stop(ctx, id, gracePeriod(podRef)); err != nil {
					m.a.log.Warn("stop unhealthy container", "pod", podRef.Name, "container", name, "err", err)
				}
			}
			m.a.queue.Add(uid)
		},
	})
	m.workers[key] = &probeEntry{w: w, cancel: cancel, pod: uid}
	go w.Run(ctx)
}

// ready reports whether container id of c passes its readiness probe (true without one).
func (m *probeManager) ready(id string, c *corev1.Container) bool {
	if c.ReadinessProbe == nil {
		return true
	}
	m.mu.Lock()
	e := m.workers[id+"/"+probe.Readiness.String()]
	m.mu.Unlock()
	return e != nil && e.w.Result() == probe.Success
}

// forgetPod stops the workers of a pod.
func (m *probeManager) forgetPod(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, e := range m.workers {
		if e.pod == uid {
			e.cancel()
			delete(m.workers, key)
		}
	}
}

func (m *probeManager) stopAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, e := range m.workers {
		e.cancel()
		delete(m.workers, key)
	}
}
