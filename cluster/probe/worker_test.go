package probe

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

// scripted is a Prober answering from a list of outcomes and recording when it was asked.
type scripted struct {
	clock   *clocktesting.FakeClock
	mu      sync.Mutex
	answers []outcome
	asked   []time.Duration // offsets from t0 of the attempts
	t0      time.Time
}

type outcome struct {
	res Result
	err error
}

var (
	ok   = outcome{res: Success}
	fail = outcome{res: Failure}
	oops = outcome{res: Unknown, err: errors.New("runtime down")}
)

func (s *scripted) Probe(ctx context.Context, p *corev1.Probe, t Target) (Result, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, s.clock.Since(s.t0))
	if len(s.answers) == 0 {
		return Success, "", nil
	}
	o := s.answers[0]
	s.answers = s.answers[1:]
	return o.res, o.res.String(), o.err
}

type harness struct {
	t       *testing.T
	clock   *clocktesting.FakeClock
	prober  *scripted
	worker  *Worker
	done    chan struct{}
	cancel  context.CancelFunc
	mu      sync.Mutex
	changes []string // "offset result"
	tries   int
}

func start(t *testing.T, kind Kind, p *corev1.Probe, startedAgo time.Duration, answers ...outcome) *harness {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	fc := clocktesting.NewFakeClock(t0)
	h := &harness{t: t, clock: fc, prober: &scripted{clock: fc, answers: answers, t0: t0}, done: make(chan struct{})}
	h.worker = NewWorker(WorkerConfig{
		Kind: kind, Probe: p, Prober: h.prober, Clock: fc, StartedAt: t0.Add(-startedAgo),
		OnChange: func(u Update) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.changes = append(h.changes, fc.Since(t0).String()+" "+u.Result.String())
		},
		OnAttempt: func(Update) { h.mu.Lock(); h.tries++; h.mu.Unlock() },
	})
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { defer close(h.done); h.worker.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-h.done })
	h.settle()
	return h
}

// settle waits until the worker sleeps on the clock or has returned.
func (h *harness) settle() {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !h.clock.HasWaiters() {
		select {
		case <-h.done:
			return
		default:
		}
		if time.Now().After(deadline) {
			h.t.Fatal("worker neither sleeps nor returns")
		}
		time.Sleep(time.Millisecond)
	}
}

func (h *harness) step(d time.Duration, n int) {
	for i := 0; i < n; i++ {
		h.clock.Step(d)
		h.settle()
	}
}

func (h *harness) check(asked []time.Duration, changes []string) {
	h.t.Helper()
	h.prober.mu.Lock()
	gotAsked := append([]time.Duration(nil), h.prober.asked...)
	h.prober.mu.Unlock()
	h.mu.Lock()
	gotChanges := append([]string(nil), h.changes...)
	h.mu.Unlock()
	if diff := cmp.Diff(asked, gotAsked); diff != "" {
		h.t.Errorf("attempts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(changes, gotChanges); diff != "" {
		h.t.Errorf("changes (-want +got):\n%s", diff)
	}
}

func (h *harness) stopped() bool {
	select {
	case <-h.done:
		return true
	default:
		return false
	}
}

func secs(ns ...int) []time.Duration {
	var out []time.Duration
	for _, n := range ns {
		out = append(out, time.Duration(n)*time.Second)
	}
	return out
}

func TestWorkerLivenessDefaults(t *testing.T) {
	// Defaults: period 10 s, failure threshold 3; liveness starts as Success.
	h := start(t, Liveness, &corev1.Probe{}, 0, ok, fail, fail, ok, fail, fail, fail, ok)
	if r := h.worker.Result(); r != Success {
		t.Errorf("initial liveness result %v, want success", r)
	}
	h.step(5*time.Second, 1) // half a period: nothing
	h.check(secs(0), nil)
	h.step(5*time.Second, 13)
	h.check(secs(0, 10, 20, 30, 40, 50, 60), []string{"1m0s failure"})
	if !h.stopped() || !h.worker.Stopped() || h.worker.Result() != Failure {
		t.Errorf("liveness worker after failure: stopped %v/%v, result %v", h.stopped(), h.worker.Stopped(), h.worker.Result())
	}
	if h.tries != 7 {
		t.Errorf("OnAttempt called %d times, want 7", h.tries)
	}
}

func TestWorkerReadinessThresholds(t *testing.T) {
	p := &corev1.Probe{PeriodSeconds: 2, SuccessThreshold: 2, FailureThreshold: 2}
	h := start(t, Readiness, p, 0, ok, fail, ok, ok, fail, oops, fail, ok, ok)
	if r := h.worker.Result(); r != Failure {
		t.Errorf("initial readiness result %v, want failure", r)
	}
	h.step(2*time.Second, 8)
	// ok(0) fail(2) ok(4) ok(6)→ready, fail(8) oops(10, not counted) fail(12)→not ready,
	// ok(14) ok(16)→ready; readiness never stops.
	h.check(secs(0, 2, 4, 6, 8, 10, 12, 14, 16), []string{"6s success", "12s failure", "16s success"})
	if h.stopped() {
		t.Errorf("readiness worker stopped")
	}
}

func TestWorkerInitialDelay(t *testing.T) {
	p := &corev1.Probe{InitialDelaySeconds: 15, PeriodSeconds: 5}
	h := start(t, Readiness, p, 10*time.Second) // the container started 10 s ago
	h.step(time.Second, 4)
	h.check(nil, nil)
	h.step(time.Second, 1)
	h.check(secs(5), []string{"5s success"})
	h.step(5*time.Second, 1)
	h.check(secs(5, 10), []string{"5s success"})
}

func TestWorkerStartupStopsOnSuccess(t *testing.T) {
	h := start(t, Startup, &corev1.Probe{PeriodSeconds: 1, FailureThreshold: 30}, 0, fail, fail, ok)
	if r := h.worker.Result(); r != Unknown {
		t.Errorf("initial startup result %v, want unknown", r)
	}
	h.step(time.Second, 2)
	h.check(secs(0, 1, 2), []string{"2s success"})
	if !h.stopped() {
		t.Errorf("startup worker still runs after success")
	}
}

func TestWorkerStopsWithContext(t *testing.T) {
	h := start(t, Readiness, &corev1.Probe{}, 0)
	h.cancel()
	select {
	case <-h.done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
