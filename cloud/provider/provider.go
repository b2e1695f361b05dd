package provider

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cloud/config"
	"github.com/drover-ci/drover/cloud/jenkins"
)

// Defaults of the provider's own settings (not part of the configuration).
const (
	// DefaultMaxPending caps, per template, the agents not yet connected
	// (pending pods + starting agents).
	DefaultMaxPending = 20
	// DefaultOrphanInterval is how often orphans are swept (also at start).
	DefaultOrphanInterval = 30 * time.Second
	// DefaultPendingTimeout bounds a Pending agent pod when the template sets none.
	DefaultPendingTimeout = 5 * time.Minute
	// DefaultConnectTimeout bounds Running → connected when neither the
	// template nor the configuration sets connectTimeout.
	DefaultConnectTimeout = 5 * time.Minute
	// DefaultOneShotIdle is how long a one-shot agent (idleMinutes 0) that
	// never got a build may stay idle above the warm pool.
	DefaultOneShotIdle = time.Minute
	// SecretOrphanAge is the age after which an agent Secret with no pod is deleted.
	SecretOrphanAge = time.Minute
	// BackoffInitial and BackoffMax bound a template's back-off after failures.
	BackoffInitial = 10 * time.Second
	BackoffMax     = 5 * time.Minute
	// MaxFailures is how many recent failures Status keeps.
	MaxFailures = 20
)

// Provider is the Jenkins cloud provider. Build it with New.
type Provider struct {
	opts  Options
	cfg   *config.Config
	ns    string
	clock clock.WithTicker
	log   *slog.Logger

	// syncMu serialises Sync (Run and tests calling Sync).
	syncMu sync.Mutex

	mu        sync.Mutex
	status    Status
	written   string // last Status JSON written to the ConfigMap (UpdatedAt zeroed)
	backoff   map[string]*backoff
	failures  []Failure
	launching map[string]bool
	// recorded are the agents whose failure is recorded, so that a removal
	// that must be retried records it only once.
	recorded  map[string]bool
	lastSweep time.Time
	lastErr   string
	// listenerWarned is the last listener refusal warned about.
	listenerWarned string
	// active and queueSig are what the last poll left for Run: work in
	// flight, and the queue it read.
	active   bool
	queueSig string
	// listener is the agent listener last read, at listenerAt.
	listener   *jenkins.AgentListener
	listenerAt time.Time
}

// backoff is one template's circuit breaker.
type backoff struct {
	delay  time.Duration
	until  time.Time
	reason string
}

// New checks the options and builds a Provider.
func New(opts Options) (*Provider, error) {
	if opts.Config == nil || opts.Jenkins == nil || opts.Kube == nil {
		return nil, errors.New("provider: Config, Jenkins and Kube are required")
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxPending == 0 {
		opts.MaxPending = DefaultMaxPending
	}
	if opts.OrphanInterval <= 0 {
		opts.OrphanInterval = DefaultOrphanInterval
	}
	ns := opts.Config.ProviderNamespace()
	seen := map[string]bool{}
	for _, t := range opts.Config.Templates {
		if t.Name == "" || seen[t.Name] {
			return nil, fmt.Errorf("provider: template name %q empty or duplicated (call Config.Validate)", t.Name)
		}
		seen[t.Name] = true
	}
	p := &Provider{opts: opts, cfg: opts.Config, ns: ns, clock: opts.Clock,
		log:       opts.Logger.With("component", "jenkins-cloud"),
		backoff:   map[string]*backoff{},
		launching: map[string]bool{},
		recorded:  map[string]bool{},
	}
	p.status = Status{JenkinsURL: p.cfg.URL, Namespace: ns, ContainerCap: p.cfg.ContainerCap}
	for _, w := range opts.Config.Warnings() {
		p.log.Warn("Jenkins cloud configuration: " + w)
	}
	return p, nil
}

// Name is the provider's name as a controller-manager loop.
func (p *Provider) Name() string { return "jenkins-cloud" }

// Run works until ctx ends: it syncs at start, then every
// Config.PollInterval (default 1 s) — and sooner when something moves:
// every quarter of it (at least 100 ms) while work is in flight (items
// waiting, agents starting, builds ending) or when a cheap read of the
// queue shows it changed. Orphans are swept every OrphanInterval. Errors
// (Jenkins or the API unreachable) are logged and put in
// Status.JenkinsError; Run keeps retrying. It returns nil when ctx ends.
func (p *Provider) Run(ctx context.Context) error {
	interval := p.cfg.PollInterval.Duration
	if interval <= 0 {
		interval = time.Second
	}
	fast := min(interval, max(MinFastPoll, interval/4))
	p.log.Info("Jenkins cloud provider starting", "config", p.cfg, "pollInterval", interval, "fastPoll", fast)
	timeout := p.opts.SyncTimeout
	if timeout <= 0 {
		timeout = max(30*time.Second, 10*interval)
	}
	t := p.clock.NewTicker(fast)
	defer t.Stop()
	var last time.Time
	for {
		if now := p.clock.Now(); last.IsZero() || now.Sub(last) >= interval || p.moving(ctx) {
			last = now
			p.syncOnce(ctx, timeout)
		}
		if ctx.Err() != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
		}
	}
}

// MinFastPoll bounds the fast poll of Run from below.
const MinFastPoll = 100 * time.Millisecond

// syncOnce runs one Sync bounded by timeout and logs its error.
func (p *Provider) syncOnce(ctx context.Context, timeout time.Duration) {
	sctx, cancel := context.WithTimeout(ctx, timeout)
	err := p.Sync(sctx)
	stalled := errors.Is(sctx.Err(), context.DeadlineExceeded)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if stalled {
		err = fmt.Errorf("provider: sync did not finish within %s: %w", timeout, err)
		p.publishJenkinsError(ctx, p.clock.Now(), err)
	}
	p.logError(err)
}

// moving reports whether a poll is due before the interval: the last one
// left work in flight, or the queue changed since (one cheap read).
func (p *Provider) moving(ctx context.Context) bool {
	p.mu.Lock()
	active, sig := p.active, p.queueSig
	p.mu.Unlock()
	if active {
		return true
	}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	q, err := p.opts.Jenkins.Queue(qctx)
	return err == nil && queueSignature(q) != sig
}

// queueSignature identifies a queue's items and their pending flags.
func queueSignature(q []jenkins.QueueItem) string {
	var b strings.Builder
	for _, it := range q {
		fmt.Fprintf(&b, "%d:%t:%t,", it.ID, it.Pending, it.Buildable)
	}
	return b.String()
}

// logError logs a sync error when it differs from the previous one (a
// Jenkins that is down is logged once, not every second).
func (p *Provider) logError(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if msg == p.lastErr {
		return
	}
	p.lastErr = msg
	if err != nil {
		p.log.Warn("Jenkins cloud sync failed; retrying", "err", err)
	} else {
		p.log.Info("Jenkins cloud sync recovered")
	}
}

// Status returns the latest status (a deep enough copy to keep).
func (p *Provider) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.status
	s.Templates = append([]TemplateStatus(nil), s.Templates...)
	s.Agents = append([]AgentStatus(nil), s.Agents...)
	s.Queue = append([]QueueStatus(nil), s.Queue...)
	s.Failures = append([]Failure(nil), s.Failures...)
	return s
}

func (p *Provider) template(name string) (config.Template, bool) {
	for _, t := range p.cfg.Templates {
		if t.Name == name {
			return t, true
		}
	}
	return config.Template{}, false
}
