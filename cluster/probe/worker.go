package probe

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
)

// Kind is the kind of a probe.
type Kind int

// Kinds.
const (
	Liveness Kind = iota
	Readiness
	Startup
)

// String returns "Liveness", "Readiness" or "Startup" (as in the kubelet's event messages).
func (k Kind) String() string {
	switch k {
	case Liveness:
		return "Liveness"
	case Readiness:
		return "Readiness"
	default:
		return "Startup"
	}
}

// Initial is a worker's result before its thresholds are first met: Failure for readiness
// (not ready until proven), Success for liveness (alive until proven dead), Unknown for startup.
func (k Kind) Initial() Result {
	switch k {
	case Liveness:
		return Success
	case Readiness:
		return Failure
	default:
		return Unknown
	}
}

// Update reports one probe attempt (OnAttempt) or a change of a worker's result (OnChange).
type Update struct {
	Kind    Kind
	Result  Result    // the attempt's result, or the worker's new result
	Message string    // the probe's output or failure message
	Err     error     // set when the attempt could not probe (Result Unknown; not counted)
	Time    time.Time // when the attempt finished
}

// WorkerConfig configures a Worker. Probe, Prober and Clock are required.
type WorkerConfig struct {
	Kind   Kind
	Probe  *corev1.Probe
	Target Target
	Prober Prober
	Clock  clock.Clock // clock.RealClock{} in production, a fake clock in tests
	// StartedAt is when the container started; initialDelaySeconds counts from it (zero: from Run).
	StartedAt time.Time
	// OnChange is called, from Run's goroutine, each time the worker's result changes.
	OnChange func(Update)
	// OnAttempt, optional, is called after every attempt (e.g. to record Unhealthy events).
	OnAttempt func(Update)
}

// Worker runs one probe of one container instance: the first attempt initialDelaySeconds
// after StartedAt, then one every periodSeconds (counted from the end of the previous
// attempt), each with timeoutSeconds. Its result starts at Kind.Initial and changes after
// successThreshold consecutive successes or failureThreshold consecutive failures; attempts
// that end in an error are not counted. A liveness or startup worker stops after reporting
// Failure (the container is to be restarted; start a new worker for the new instance) and a
// startup worker stops after reporting Success.
type Worker struct {
	cfg WorkerConfig

	mu      sync.Mutex
	result  Result
	last    Result // result of the last counted attempt
	run     int    // consecutive counted attempts with result last
	stopped bool
}

// NewWorker returns a worker for cfg; call Run to start probing.
func NewWorker(cfg WorkerConfig) *Worker {
	return &Worker{cfg: cfg, result: cfg.Kind.Initial()}
}

// Result returns the worker's current result.
func (w *Worker) Result() Result {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.result
}

// Run probes until ctx is done or the worker stops (see Worker); it blocks.
func (w *Worker) Run(ctx context.Context) {
	start := w.cfg.StartedAt
	if start.IsZero() {
		start = w.cfg.Clock.Now()
	}
	wait := start.Add(InitialDelay(w.cfg.Probe)).Sub(w.cfg.Clock.Now())
	period := Period(w.cfg.Probe)
	for {
		if wait > 0 && !w.sleep(ctx, wait) {
			return
		}
		if !w.attempt(ctx) {
			return
		}
		wait = period
	}
}

func (w *Worker) sleep(ctx context.Context, d time.Duration) bool {
	t := w.cfg.Clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}

// attempt probes once and applies the thresholds; it returns false when the worker stops.
func (w *Worker) attempt(ctx context.Context) bool {
	res, msg, err := w.cfg.Prober.Probe(ctx, w.cfg.Probe, w.cfg.Target)
	if ctx.Err() != nil {
		return false
	}
	u := Update{Kind: w.cfg.Kind, Result: res, Message: msg, Err: err, Time: w.cfg.Clock.Now()}
	if err != nil {
		u.Result = Unknown
	}
	if w.cfg.OnAttempt != nil {
		w.cfg.OnAttempt(u)
	}
	changed, stop := w.observe(u.Result)
	if changed && w.cfg.OnChange != nil {
		u.Result = w.Result()
		w.cfg.OnChange(u)
	}
	return !stop
}

// observe counts one attempt's result and reports whether the worker's result changed and
// whether the worker stops.
func (w *Worker) observe(r Result) (changed, stop bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if r != Success && r != Failure {
		return false, false
	}
	if r == w.last {
		w.run++
	} else {
		w.last, w.run = r, 1
	}
	if (r == Failure && w.run < FailureThreshold(w.cfg.Probe)) ||
		(r == Success && w.run < SuccessThreshold(w.cfg.Probe)) {
		return false, false
	}
	changed = w.result != r
	w.result = r
	switch {
	case r == Failure && w.cfg.Kind != Readiness:
		w.stopped = true
	case r == Success && w.cfg.Kind == Startup:
		w.stopped = true
	}
	return changed, w.stopped
}

// Stopped reports whether the worker stopped by itself (liveness or startup failure, startup
// success).
func (w *Worker) Stopped() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stopped
}
