// Package manager runs drover's controllers: one leader at a time among every process that runs
// it (drover server, drover up), chosen through a coordination.k8s.io/v1 Lease with client-go's
// leader election. A leader that loses its Lease stops acting at once.
package manager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	metricsv1beta1 "k8s.io/metrics/pkg/client/clientset/versioned/typed/metrics/v1beta1"
	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cluster/controller"
)

// Config configures the manager.
type Config struct {
	// Client is the controllers' client (and the shared informers' and the Lease's).
	Client kubernetes.Interface
	// Clients gives the controllers it names a client of their own (their own identity, as
	// kube-controller-manager's --use-service-account-credentials does); the shared informers
	// still list and watch with Client.
	Clients map[string]kubernetes.Interface
	// LeaseClient, when set, is the leader election's client: on a connection of its own and
	// without client-side rate limit, so that the controllers' traffic never delays a
	// renewal (nil: Client).
	LeaseClient kubernetes.Interface
	// Metrics reads metrics.k8s.io for the autoscaler (optional).
	Metrics metricsv1beta1.MetricsV1beta1Interface
	// Identity names this process in the Lease (default host name + pid).
	Identity string
	// Lease timing (defaults 10 s, 7 s, 1 s: a new leader acts 10–12 s after a crash; measured
	// p50 10.7 s, max 11.4 s by internal/hatest's BenchmarkControllerHandover).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Options are passed to every controller.
	Options controller.Options
	// Controllers to run (default: All).
	Controllers map[string]controller.Constructor
	// StopTimeout bounds how long a term waits for its controllers to return once it ends
	// (default 10 s). A controller still running then is a bug: Run returns an error naming
	// it (the process should exit and be restarted) rather than hang before campaigning again.
	StopTimeout time.Duration
	// Fence, when set, is the fence Run arms while it leads; build the controllers' clients on a
	// rest.Config wrapped with its WrapTransport so that they cannot write once this process may
	// have lost the Lease (not the LeaseClient's: renewals are writes). Nil: Run uses a fence
	// of its own, which stops the controllers but cannot hold back a write already on its way.
	Fence *Fence
	// Logger receives the manager's logs and, with a "controller" attribute naming each
	// controller, the controllers' (nil: they are dropped).
	Logger *slog.Logger
}

// DefaultStopTimeout is Config.StopTimeout's default.
const DefaultStopTimeout = 10 * time.Second

// BuildError is returned by Run when a controller cannot be built (its configuration is wrong).
type BuildError struct {
	Controller string
	Err        error
}

func (e *BuildError) Error() string {
	return fmt.Sprintf("controller manager: controller %s: %v", e.Controller, e.Err)
}

func (e *BuildError) Unwrap() error { return e.Err }

// StuckError is returned by Run when controllers did not return within StopTimeout of their
// term's end.
type StuckError struct {
	Controllers []string
	Timeout     time.Duration
}

func (e *StuckError) Error() string {
	return fmt.Sprintf("controller manager: controllers did not stop within %s of losing the lead: %s (exiting so that a supervisor restarts the process)",
		e.Timeout, strings.Join(e.Controllers, ", "))
}

// LeaseName is the Lease in kube-system that elects the controller manager's leader.
const LeaseName = "drover-controller-manager"

// Run takes part in the leader election until ctx ends, running the controllers while it leads.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Client == nil {
		return errors.New("controller manager: client is required")
	}
	if cfg.Identity == "" {
		host, _ := os.Hostname()
		cfg.Identity = fmt.Sprintf("%s_%d", host, os.Getpid())
	}
	if cfg.LeaseDuration == 0 {
		cfg.LeaseDuration, cfg.RenewDeadline, cfg.RetryPeriod = 10*time.Second, 7*time.Second, time.Second
	}
	if cfg.Controllers == nil {
		cfg.Controllers = All()
	}
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = DefaultStopTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	log := cfg.Logger
	leaseClient := cfg.LeaseClient
	if leaseClient == nil {
		leaseClient = cfg.Client
	}
	base := &resourcelock.LeaseLock{
		LeaseMeta:  metav1ObjectMeta(LeaseName, "kube-system"),
		Client:     leaseClient.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: cfg.Identity},
	}
	f := cfg.Fence
	if f == nil {
		f = &Fence{}
	}
	f.mu.Lock()
	f.identity, f.deadline, f.log = cfg.Identity, cfg.RenewDeadline, log
	f.mu.Unlock()
	lock := &fencedLock{Interface: base, f: f}
	// The informers outlive the terms (see termInformers): a process that leads again finds
	// its caches synced. They stop with Run.
	factory := informers.NewSharedInformerFactoryWithOptions(cfg.Client, 0, informers.WithTransform(controller.StripManagedFields))
	ictx, stopInformers := context.WithCancel(ctx)
	defer controller.ShutdownInformers(factory, controller.InformerShutdownWait)
	defer stopInformers() // first: Shutdown waits for informers whose stop channel is closed
	// fatal ends Run: set by a term whose controllers could not be built (their configuration
	// is wrong, and will be next term too) or did not stop in time.
	var fatal atomic.Pointer[error]
	for ctx.Err() == nil && fatal.Load() == nil {
		// Each round of the election has its own context, which the fence ends when this
		// process can no longer be sure it leads; the next round starts as a candidate.
		rctx, cancel := context.WithCancel(ctx)
		var term sync.WaitGroup // the controllers of this round, so the next never overlaps them
		term.Add(1)
		started := make(chan struct{})
		leaderelection.RunOrDie(rctx, leaderelection.LeaderElectionConfig{
			Lock:            lock,
			LeaseDuration:   cfg.LeaseDuration,
			RenewDeadline:   cfg.RenewDeadline,
			RetryPeriod:     cfg.RetryPeriod,
			ReleaseOnCancel: true,
			Name:            LeaseName,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(lctx context.Context) {
					close(started)
					defer term.Done()
					if err := lead(lctx, ictx, cfg, factory, f, cancel); err != nil {
						fatal.Store(&err)
					}
					// Controllers that returned on their own must not leave a Lease renewed
					// with nothing acting behind it: give it up and stand again.
					cancel()
				},
				OnStoppedLeading: func() { log.Info("controller manager: stopped leading", "identity", cfg.Identity) },
				OnNewLeader: func(id string) {
					if id != cfg.Identity {
						log.Info("controller manager: leader is", "identity", id)
					}
				},
			},
		})
		cancel()
		select {
		case <-started:
			term.Wait() // bounded: runControllers gives up on its controllers after StopTimeout
		default: // never led in this round
		}
	}
	if err := fatal.Load(); err != nil {
		return *err
	}
	return nil
}

// lead runs the controllers of one term, fenced, until the term ends; it returns the errors
// that must end Run (a controller that cannot be built or did not stop) and logs the others.
// The informers of factory run until process ends.
func lead(ctx, process context.Context, cfg Config, factory informers.SharedInformerFactory, f *Fence, endRound context.CancelFunc) error {
	log := cfg.Logger
	log.Info("controller manager: leading", "identity", cfg.Identity)
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	f.lead(ctx, endRound)
	err := runControllers(ctx, process, cfg, factory)
	var se *StuckError
	var be *BuildError
	switch {
	case errors.As(err, &se):
		log.Error("controller manager: controllers did not stop", "controllers", se.Controllers, "timeout", se.Timeout)
		return err
	case errors.As(err, &be):
		return err
	case err != nil && ctx.Err() == nil:
		log.Error("controller manager: controllers stopped", "err", err)
	}
	return nil
}

// runControllers builds every controller on the process's informers (their event handlers
// this term's alone) and runs them until ctx ends (the lease is lost or the process stops);
// informers it starts run until process ends.
func runControllers(ctx, process context.Context, cfg Config, factory informers.SharedInformerFactory) error {
	bc := record.NewBroadcaster(record.WithContext(ctx))
	bc.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cfg.Client.CoreV1().Events("")})
	defer bc.Shutdown()
	term := newTermInformers(factory)
	defer func() {
		if err := term.end(); err != nil {
			cfg.Logger.Error("controller manager: ending the term", "err", err)
		}
	}()
	cctx := controller.Context{
		Client:    cfg.Client,
		Metrics:   cfg.Metrics,
		Informers: term,
		Recorder: func(component string) record.EventRecorder {
			return bc.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component})
		},
		Clock:   clock.RealClock{},
		Options: cfg.Options.WithDefaults(),
	}
	var ctrls []controller.Controller
	for name, build := range cfg.Controllers {
		cc := cctx
		cc.Logger = cfg.Logger.With("controller", name)
		if own := cfg.Clients[name]; own != nil {
			cc.Client = own
		}
		c, err := build(cc)
		if err != nil {
			return &BuildError{Controller: name, Err: err}
		}
		ctrls = append(ctrls, c)
	}
	factory.Start(process.Done())
	running := map[string]chan struct{}{}
	errs := make(chan error, len(ctrls))
	for _, c := range ctrls {
		done := make(chan struct{})
		running[c.Name()] = done
		go func(c controller.Controller) {
			defer close(done)
			if err := c.Run(ctx); err != nil && ctx.Err() == nil {
				errs <- fmt.Errorf("%s: %w", c.Name(), err)
			}
		}(c)
	}
	if stuck := waitStopped(ctx, running, cfg.StopTimeout); len(stuck) > 0 {
		return &StuckError{Controllers: stuck, Timeout: cfg.StopTimeout}
	}
	close(errs)
	return errors.Join(collect(errs)...)
}

// waitStopped waits for every controller in running to return, and once ctx has ended at most
// timeout more; it returns the names of those still running then, sorted.
func waitStopped(ctx context.Context, running map[string]chan struct{}, timeout time.Duration) []string {
	var deadline <-chan time.Time
	for _, done := range running {
		select {
		case <-done:
			continue
		case <-ctx.Done():
		}
		if deadline == nil {
			t := time.NewTimer(timeout)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-done:
		case <-deadline:
			var stuck []string
			for n, d := range running {
				select {
				case <-d:
				default:
					stuck = append(stuck, n)
				}
			}
			sort.Strings(stuck)
			return stuck
		}
	}
	return nil
}

func collect(ch <-chan error) []error {
	var out []error
	for e := range ch {
		out = append(out, e)
	}
	return out
}
