package app

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"github.com/drover-ci/drover/cloud/config"
	"github.com/drover-ci/drover/cloud/runner"
	ctrl "github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/cluster/controller/consulcatalog"
	"github.com/drover-ci/drover/cluster/controller/manager"
	"github.com/drover-ci/drover/cluster/controller/nodeipam"
	"github.com/drover-ci/drover/cluster/store/consulstore"
)

// controllerOptions are the controller manager's flags, shared by `drover server` and `drover up`.
type controllerOptions struct {
	// advertise is where pods reach the API server (set by server and up once it listens).
	advertise     netip.AddrPort
	enabled       bool
	serviceCIDR   string
	nodePortRange string
	gracePeriod   time.Duration
	eviction      time.Duration
	consulCatalog string
	clusterCIDR   string
	nodeCIDRMask  int
	jenkinsConfig string
	signingCert   string
	signingKey    string

	// Set by prepare: the static Jenkins cloud configuration (nil: follow the ConfigMap) and
	// the registry /metrics serves.
	jenkins *config.Config
	metrics *prometheus.Registry
}

func (o *controllerOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVar(&o.enabled, "controllers", true, "run the controllers (one leader among all servers sharing the store)")
	f.StringVar(&o.serviceCIDR, "service-cidr", "10.96.0.0/16", "range of service cluster IPs")
	f.StringVar(&o.nodePortRange, "node-port-range", "30000-32767", "range of NodePorts (MIN-MAX)")
	f.DurationVar(&o.gracePeriod, "node-monitor-grace-period", 40*time.Second, "a node whose Lease is older than this becomes NotReady")
	f.DurationVar(&o.eviction, "pod-eviction-timeout", 60*time.Second, "how long a node stays NotReady before its pods are deleted (replaced on other nodes)")
	f.StringVar(&o.clusterCIDR, "cluster-cidr", "10.244.0.0/16", "range nodes' pod subnets (Node spec.podCIDR) come from, for drover node --host-gw (\"none\": allocate none)")
	f.IntVar(&o.nodeCIDRMask, "node-cidr-mask-size", 24, "prefix length of each node's pod subnet within --cluster-cidr: 2^(mask-size - cluster prefix) nodes fit (a /16 with /24 subnets: 256; hollow fleets: 26 gives 1024 of 64 addresses each)")
	f.StringVar(&o.jenkinsConfig, "jenkins-config", "", "Jenkins cloud configuration file (YAML; instead of the \"jenkins\" section of --config; default: what drover jenkins install configured)")
	f.StringVar(&o.signingCert, "cluster-signing-cert-file", "", "CA certificate (PEM) that signs approved kubelet-serving CertificateSigningRequests, the node agents' serving certificates (default: DATA-DIR/pki/ca.crt, drover's CA)")
	f.StringVar(&o.signingKey, "cluster-signing-key-file", "", "key of --cluster-signing-cert-file (default: DATA-DIR/pki/ca.key)")
	f.StringVar(&o.consulCatalog, "consul-catalog", "", "register Services in Consul's catalog at HOST:PORT (default: the --store's Consul when it is consul://; \"off\" disables; token and TLS from CONSUL_HTTP_*)")
}

// catalogAddress is the Consul agent the catalog controller talks to ("" for none).
func (o *controllerOptions) catalogAddress(storeDSN string) string {
	switch {
	case o.consulCatalog == "off":
		return ""
	case o.consulCatalog != "":
		return o.consulCatalog
	case strings.HasPrefix(storeDSN, "consul://"):
		if u, err := url.Parse(storeDSN); err == nil {
			return u.Host
		}
	}
	return ""
}

// nodePortMin and nodePortMax are --node-port-range's bounds for the API server, which
// allocates node ports (0 when the flag is malformed: options() reports that).
func (o *controllerOptions) nodePortMin() int {
	lo, _, _ := strings.Cut(o.nodePortRange, "-")
	n, _ := strconv.Atoi(lo)
	return n
}

func (o *controllerOptions) nodePortMax() int {
	_, hi, _ := strings.Cut(o.nodePortRange, "-")
	n, _ := strconv.Atoi(hi)
	return n
}

func (o *controllerOptions) options() (ctrl.Options, error) {
	lo, hi, ok := strings.Cut(o.nodePortRange, "-")
	min, err1 := strconv.Atoi(lo)
	max, err2 := strconv.Atoi(hi)
	if !ok || err1 != nil || err2 != nil || min < 1 || max > 65535 || min > max {
		return ctrl.Options{}, fmt.Errorf("--node-port-range %q: want MIN-MAX within 1-65535", o.nodePortRange)
	}
	if o.gracePeriod <= 0 || o.eviction < 0 {
		return ctrl.Options{}, fmt.Errorf("--node-monitor-grace-period and --pod-eviction-timeout must be positive")
	}
	if o.clusterCIDR != "none" {
		if _, err := nodeipam.NewAllocator(o.clusterCIDR, o.nodeCIDRMask); err != nil {
			return ctrl.Options{}, err
		}
	}
	return ctrl.Options{ServiceCIDR: o.serviceCIDR, NodePortMin: min, NodePortMax: max,
		NodeMonitorGracePeriod: o.gracePeriod, PodEvictionTimeout: o.eviction,
		ClusterCIDR: o.clusterCIDR, NodeCIDRMaskSize: o.nodeCIDRMask}, nil
}

// prepare checks the flags and loads the Jenkins cloud configuration, so that a bad one
// refuses the start with the field named; it also makes the registry /metrics serves.
func (o *controllerOptions) prepare(cmd *cobra.Command) error {
	if _, err := o.options(); err != nil {
		return err
	}
	cfg, err := loadJenkinsConfig(cmd, o.jenkinsConfig)
	if err != nil {
		return err
	}
	o.jenkins = cfg
	o.metrics = prometheus.NewRegistry()
	o.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return nil
}

// run runs the controller manager with cfg (its own identity, system:kube-controller-manager,
// a client certificate from the CA in process: componentConfig), and the Jenkins cloud
// provider in it with provider (identity rbac.JenkinsProvider), until ctx ends (the CA
// in dataDir/pki signs the node agents' serving certificates unless the flags name another); it
// returns at once when --controllers=false, and with an error when the manager cannot go on
// (a controller that cannot be built or does not stop), which ends the whole process.
func (o *controllerOptions) run(ctx context.Context, cfg, provider *rest.Config, storeDSN, dataDir string, log *slog.Logger) error {
	if !o.enabled {
		return nil
	}
	opts, err := o.options()
	if err != nil {
		return err
	}
	cfg = rest.CopyConfig(cfg)
	opts.APIServerAddress = o.advertise
	if opts.RootCA, err = rootCA(cfg); err != nil {
		return err
	}
	opts.ClusterSigningCertFile = cmp.Or(o.signingCert, filepath.Join(dataDir, "pki", "ca.crt"))
	opts.ClusterSigningKeyFile = cmp.Or(o.signingKey, filepath.Join(dataDir, "pki", "ca.key"))
	if _, err := os.Stat(opts.ClusterSigningKeyFile); o.signingKey == "" && err != nil {
		// No CA key here (a server whose data dir holds no key): nothing is signed.
		opts.ClusterSigningCertFile, opts.ClusterSigningKeyFile = "", ""
	}
	// The Lease's client is not fenced (renewals are writes); every controller's client is:
	// none writes once this process may have lost the Lease.
	leaseClient, err := kubernetes.NewForConfig(ownConnection(cfg, "drover-controller-manager-leader-election", 7*time.Second))
	if err != nil {
		return err
	}
	fence := &manager.Fence{}
	cfg.Wrap(fence.WrapTransport)
	cfg.QPS, cfg.Burst = 2000, 4000 // the scheduler alone binds over 1,000 pods/s
	cfg.UserAgent = "drover-controller-manager"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	metrics, err := metricsclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	provider = rest.CopyConfig(provider)
	provider.QPS, provider.Burst = 200, 400
	provider.UserAgent = "drover-jenkins-provider"
	provider.Wrap(fence.WrapTransport)
	providerClient, err := kubernetes.NewForConfig(provider)
	if err != nil {
		return err
	}
	ctrls := manager.All()
	ctrls[runner.Name] = runner.New(runner.Config{Static: o.jenkins, Registerer: o.metrics, Logger: log})
	if addr := o.catalogAddress(storeDSN); addr != "" {
		cc, err := consulstore.ConfigFromEnv(addr, "").Client()
		if err != nil {
			return fmt.Errorf("--consul-catalog %s: %w", addr, err)
		}
		ctrls["consulcatalog"] = consulcatalog.New(consulcatalog.Config{Consul: cc})
	}
	return manager.Run(ctx, manager.Config{Client: client, Metrics: metrics.MetricsV1beta1(), Options: opts, Controllers: ctrls, Logger: log,
		Clients: map[string]kubernetes.Interface{runner.Name: providerClient}, LeaseClient: leaseClient, Fence: fence})
}

// rootCA is the CA bundle of the kubeconfig the controllers use: the CA that signs the API
// server's certificate, which pods get as kube-root-ca.crt.
func rootCA(cfg *rest.Config) ([]byte, error) {
	if len(cfg.CAData) > 0 {
		return cfg.CAData, nil
	}
	if cfg.CAFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("reading the API server's CA: %w", err)
	}
	return b, nil
}
