package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover-ci/drover/cloud/config"
	"github.com/drover-ci/drover/cloud/jenkins"
	"github.com/drover-ci/drover/cloud/provider"
)

// supervise runs the provider for cfg until ctx ends, starting it again whenever it cannot
// start (credentials, Service, Jenkins unreachable) or stops. Attempts back off from
// RetryMin but never wait more than ProbeEvery, so the provider starts soon after Jenkins
// answers; the warning and the event back off from RetryMin to RetryMax; the status
// ConfigMap shows each new error at once.
// src is the ConfigMap the configuration came from (events are recorded on it), nil for a
// static one.
func (r *Runner) supervise(ctx context.Context, cfg *config.Config, src *corev1.ConfigMap) {
	rep := reporter{delay: r.cfg.RetryMin}
	wait := min(r.cfg.RetryMin, r.cfg.ProbeEvery)
	for ctx.Err() == nil {
		started, err := r.runOnce(ctx, cfg, src)
		if ctx.Err() != nil {
			return
		}
		if started {
			rep = reporter{delay: r.cfg.RetryMin}
			wait = min(r.cfg.RetryMin, r.cfg.ProbeEvery)
		}
		if err == nil {
			err = fmt.Errorf("the provider stopped")
		}
		report, changed := rep.failed(time.Now(), err.Error(), r.cfg.RetryMax)
		var waiting *WaitingError
		switch {
		case !report:
		case errors.As(err, &waiting):
			// Jenkins is being installed or restarted: normal, not a failure.
			r.log.Info("jenkins cloud: waiting for Jenkins", "reason", err, "every", r.cfg.ProbeEvery)
			r.event(src, corev1.EventTypeNormal, "WaitingForJenkins", err.Error())
		default:
			r.log.Warn("jenkins cloud: provider not running; retrying", "err", err, "every", r.cfg.ProbeEvery,
				"nextReport", rep.delay)
			r.event(src, corev1.EventTypeWarning, "ProviderFailed", err.Error())
		}
		if report || changed {
			r.writeError(ctx, cfg, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, r.cfg.ProbeEvery)
	}
}

// reporter spaces out the reports of a provider that keeps failing to start.
type reporter struct {
	delay   time.Duration // back-off before the next report
	next    time.Time     // no report before then
	lastErr string
}

// failed records a failed attempt at now: report says whether to log it and record an
// event (the first failure, then after each back-off, doubling up to maxDelay); changed
// whether the error differs from the last one. The status ConfigMap is rewritten on both.
func (p *reporter) failed(now time.Time, msg string, maxDelay time.Duration) (report, changed bool) {
	changed = msg != p.lastErr
	p.lastErr = msg
	if now.Before(p.next) {
		return false, changed
	}
	p.next = now.Add(p.delay)
	p.delay = min(2*p.delay, maxDelay)
	return true, changed
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
	// Counted and logged before the provider shows as up: whoever sees up=1 (a scrape of
	// /metrics, TestJenkinsConfigStatic) sees this start counted and logged too.
	r.m.starts.Inc()
	r.log.Info("jenkins cloud: provider started", "url", cfg.URL, "resolved", url, "namespace", ns, "templates", len(cfg.Templates))
	r.event(src, corev1.EventTypeNormal, "ProviderStarted", fmt.Sprintf("connected to %s (%s), %d templates", cfg.URL, url, len(cfg.Templates)))
	r.setRunning(true)
	defer r.setRunning(false)
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
