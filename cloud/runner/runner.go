// Package runner runs the Jenkins cloud provider inside drover's controller manager (leader
// only). Its configuration comes from drover's own configuration file when one was given
// (Config.Static); otherwise it follows the ConfigMap kube-system/drover-jenkins-cloud (key
// config.yaml) that `drover jenkins install` writes, and (re)starts the provider whenever it
// appears, changes or disappears. Before starting the provider it resolves the credentials
// (environment variable, file or Secret), turns a url naming a Service
// (jenkins.NS.svc.cluster.local, jenkins.NS.svc, jenkins.NS) into the Service's cluster IP —
// drover's servers run on the hosts, where cluster IPs answer through drover's proxy but
// cluster DNS is not used — and connects to Jenkins, retrying every second while Jenkins
// starts (reports of the failure back off up to 30 s); the last error is written to the provider's status ConfigMap, where `drover jenkins
// status` shows it. The API token is never logged and never given to anything but the
// Jenkins client.
package runner

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"

	"github.com/drover-ci/drover/cloud/config"
	"github.com/drover-ci/drover/cloud/jenkins"
	"github.com/drover-ci/drover/cloud/provider"
	"github.com/drover-ci/drover/cluster/controller"
)

// Where `drover jenkins install` writes the provider's configuration.
const (
	ConfigNamespace = "kube-system"
	ConfigMapName   = "drover-jenkins-cloud"
	ConfigKey       = "config.yaml"
)

// DefaultProbeEvery is Config.ProbeEvery's default.
const DefaultProbeEvery = time.Second

// Name is the controller's name in the controller manager.
const Name = "jenkins"

// Runnable is a started provider.
type Runnable interface {
	Run(ctx context.Context) error
}

// Config configures the runner.
type Config struct {
	// Static is the validated configuration from drover's configuration file; nil: follow
	// the ConfigMap ConfigNamespace/ConfigMapName.
	Static *config.Config
	// Registerer receives the provider's and the runner's metrics (nil: not registered).
	Registerer prometheus.Registerer
	// Getenv reads credentials.tokenEnv (default os.Getenv).
	Getenv func(string) string
	// Connect builds the Jenkins client (default: jenkins.NewGojenkins).
	Connect func(context.Context, jenkins.Config) (jenkins.Client, error)
	// Start builds the provider (default: provider.New).
	Start func(provider.Options) (Runnable, error)
	// RetryMin and RetryMax bound the back-off between reports (log, event) that the
	// provider cannot start (defaults 1 s and 30 s).
	RetryMin, RetryMax time.Duration
	// ProbeEvery is how often a provider that cannot start is tried again, whatever the
	// back-off (default 1 s): the provider starts within about ProbeEvery of Jenkins
	// answering, while reports still back off.
	ProbeEvery time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Runner is the controller. Build it through New's Constructor.
type Runner struct {
	cfg      Config
	m        *metrics
	client   kubernetes.Interface
	recorder record.EventRecorder
	log      *slog.Logger

	mu      sync.Mutex
	running bool
}

// metrics are created once per New, so a leader that loses and regains its Lease (which
// constructs the controllers again) registers nothing twice.
type metrics struct {
	provider *provider.Metrics
	up       prometheus.Gauge
	starts   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		provider: provider.NewMetrics(reg),
		up: prometheus.NewGauge(prometheus.GaugeOpts{Name: "drover_jenkins_provider_up",
			Help: "1 while the Jenkins cloud provider runs connected to Jenkins, else 0."}),
		starts: prometheus.NewCounter(prometheus.CounterOpts{Name: "drover_jenkins_provider_starts_total",
			Help: "Times the Jenkins cloud provider was started (configuration changes and retries)."}),
	}
	if reg != nil {
		reg.MustRegister(m.up, m.starts)
	}
	return m
}

// New returns the controller's Constructor, registered as Name in the controller manager.
// It registers the metrics with cfg.Registerer at once.
func New(cfg Config) controller.Constructor {
	if cfg.Connect == nil {
		cfg.Connect = func(ctx context.Context, c jenkins.Config) (jenkins.Client, error) {
			return jenkins.NewGojenkins(ctx, c)
		}
	}
	if cfg.Start == nil {
		cfg.Start = func(o provider.Options) (Runnable, error) { return provider.New(o) }
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = time.Second
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = max(30*time.Second, cfg.RetryMin)
	}
	if cfg.ProbeEvery <= 0 {
		cfg.ProbeEvery = DefaultProbeEvery
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := newMetrics(cfg.Registerer)
	return func(cc controller.Context) (controller.Controller, error) {
		r := &Runner{cfg: cfg, m: m, client: cc.Client, log: cfg.Logger.With("controller", Name)}
		if cc.Recorder != nil {
			r.recorder = cc.Recorder("jenkins-cloud")
		}
		return r, nil
	}
}

// Name is "jenkins".
func (r *Runner) Name() string { return Name }

// Running reports whether a provider is running now.
func (r *Runner) Running() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running
}

// Run works until ctx ends.
func (r *Runner) Run(ctx context.Context) error {
	if r.cfg.Static != nil {
		r.log.Info("jenkins cloud: configuration from drover's configuration file", "config", *r.cfg.Static)
		r.supervise(ctx, r.cfg.Static, nil)
		return nil
	}
	return r.follow(ctx)
}
