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
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cluster/controller"
)

// Config configures the manager.
type Config struct {
	Client kubernetes.Interface
	// Identity names this process in the Lease (default host name + pid).
	Identity string
	// Lease timing (defaults 10 s, 7 s, 1 s: a new leader acts 10–12 s after a crash; measured
	// p50 10.7 s, max 11.4 s by cluster/ha's BenchmarkControllerHandover).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Options are passed to every controller.
	Options controller.Options
	// Controllers to run (default: All).
	Controllers map[string]controller.Constructor
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
	base := &resourcelock.LeaseLock{
		LeaseMeta:  metav1ObjectMeta(LeaseName, "kube-system"),
		Client:     cfg.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: cfg.Identity},
	}
	f := &fence{identity: cfg.Identity, deadline: cfg.RenewDeadline}
	lock := &fencedLock{Interface: base, f: f}
	for ctx.Err() == nil {
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
					slog.Info("controller manager: leading", "identity", cfg.Identity)
					lctx, stop := context.WithCancel(lctx)
					defer stop()
					f.lead(lctx, cancel)
					if err := runControllers(lctx, cfg); err != nil && lctx.Err() == nil {
						slog.Error("controller manager: controllers stopped", "err", err)
					}
					// Controllers that returned on their own must not leave a Lease renewed
					// with nothing acting behind it: give it up and stand again.
					cancel()
				},
				OnStoppedLeading: func() { slog.Info("controller manager: stopped leading", "identity", cfg.Identity) },
				OnNewLeader: func(id string) {
					if id != cfg.Identity {
						slog.Info("controller manager: leader is", "identity", id)
					}
				},
			},
		})
		cancel()
		select {
		case <-started:
			term.Wait()
		default: // never led in this round
		}
	}
	return nil
}

// runControllers builds every controller on fresh informers and runs them until ctx ends
// (the lease is lost or the process stops).
func runControllers(ctx context.Context, cfg Config) error {
	bc := record.NewBroadcaster(record.WithContext(ctx))
	bc.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cfg.Client.CoreV1().Events("")})
	defer bc.Shutdown()
	factory := informers.NewSharedInformerFactory(cfg.Client, 0)
	cctx := controller.Context{
		Client:    cfg.Client,
		Informers: factory,
		Recorder: func(component string) record.EventRecorder {
			return bc.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component})
		},
		Clock:   clock.RealClock{},
		Options: cfg.Options.WithDefaults(),
	}
	var ctrls []controller.Controller
	for name, build := range cfg.Controllers {
		c, err := build(cctx)
		if err != nil {
			return fmt.Errorf("controller %s: %w", name, err)
		}
		ctrls = append(ctrls, c)
	}
	factory.Start(ctx.Done())
	var wg sync.WaitGroup
	errs := make(chan error, len(ctrls))
	for _, c := range ctrls {
		wg.Add(1)
		go func(c controller.Controller) {
			defer wg.Done()
			if err := c.Run(ctx); err != nil && ctx.Err() == nil {
				errs <- fmt.Errorf("%s: %w", c.Name(), err)
			}
		}(c)
	}
	wg.Wait()
	factory.Shutdown()
	close(errs)
	return errors.Join(collect(errs)...)
}

func collect(ch <-chan error) []error {
	var out []error
	for e := range ch {
		out = append(out, e)
	}
	return out
}
