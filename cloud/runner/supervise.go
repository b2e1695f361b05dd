package runner

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover-ci/drover/cloud/config"
	"github.com/drover-ci/drover/cloud/jenkins"
	"github.com/drover-ci/drover/cloud/provider"
)

// supervise runs the provider for cfg until ctx ends, starting it again after a back-off
// whenever it cannot start (credentials, Service, Jenkins unreachable) or stops. src is the
// ConfigMap the configuration came from (events are recorded on it), nil for a static one.
func (r *Runner) supervise(ctx context.Context, cfg *config.Config, src *corev1.ConfigMap) {
	delay := r.cfg.RetryMin
	for ctx.Err() == nil {
		started, err := r.runOnce(ctx, cfg, src)
		if ctx.Err() != nil {
			return
		}
		if started {
			delay = r.cfg.RetryMin
		}
		if err == nil {
			err = fmt.Errorf("the provider stopped")
		}
		r.log.Warn("jenkins cloud: provider not running; retrying", "err", err, "retry", delay)
		r.event(src, corev1.EventTypeWarning, "ProviderFailed", err.Error())
		r.writeError(ctx, cfg, err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, r.cfg.RetryMax)
	}
}

// runOnce resolves credentials and the url, connects to Jenkins and runs the provider until
// it stops or ctx ends. started tells whether the provider ran.
func (r *Runner) runOnce(ctx context.Context, cfg *config.Config, src *corev1.ConfigMap) (started bool, err error) {
	ns := cfg.ProviderNamespace()
	user, token, err := r.credentials(ctx, cfg.Credentials, ns)
	if err != nil {
		return false, err
	}
	url, err := r.resolveURL(ctx, cfg.URL)
	if err != nil {
		return false, err
	}
	jc, err := r.cfg.Connect(ctx, jenkins.Config{URL: url, User: user, APIToken: token,
		ConnectTimeout: cfg.ConnectTimeout.Duration, ReadTimeout: cfg.ReadTimeout.Duration})
	if err != nil {
		return false, err
	}
	opts := provider.Options{Config: cfg, Jenkins: jc, Kube: r.client, Recorder: r.recorder, Metrics: r.m.provider}
	p, err := r.cfg.Start(opts)
	if err != nil {
		return false, fmt.Errorf("provider: %w", err)
	}
	r.setRunning(true)
	defer r.setRunning(false)
	r.m.starts.Inc()
	r.log.Info("jenkins cloud: provider started", "url", cfg.URL, "resolved", url, "namespace", ns, "templates", len(cfg.Templates))
	r.event(src, corev1.EventTypeNormal, "ProviderStarted", fmt.Sprintf("connected to %s (%s), %d templates", cfg.URL, url, len(cfg.Templates)))
	return true, p.Run(ctx)
}

func (r *Runner) setRunning(on bool) {
	r.mu.Lock()
	r.running = on
	r.mu.Unlock()
	if on {
		r.m.up.Set(1)
	} else {
		r.m.up.Set(0)
	}
}

func (r *Runner) event(src *corev1.ConfigMap, kind, reason, msg string) {
	if src != nil && r.recorder != nil {
		r.recorder.Event(src, kind, reason, msg)
	}
}
