package app

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/resourcemetrics"
)

// serverOptions are the flags of `drover server`.
type serverOptions struct {
	controllers      controllerOptions
	dataDir          string
	listen           string
	store            string
	consulDatacenter string
	sans             []string
	advertise        string
	anonymousMetrics bool
	maxInflight      int
	maxMutating      int
	maxConnections   int
	logging          logOptions
	metricResolution time.Duration
	podSecurity      string
}

// metricResolutionConfig is the API server's MetricResolution for the flag (0: off).
func (o *serverOptions) metricResolutionConfig() time.Duration {
	if o.metricResolution <= 0 {
		return -1
	}
	return o.metricResolution
}

func (o *serverOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data-dir", defaultDataDir(), "directory for state.db, the CA, the admin token and the kubeconfig")
	f.StringVar(&o.listen, "listen", "0.0.0.0:6443", "address and port the HTTPS API listens on")
	f.StringVar(&o.store, "store", "", "where state lives: bolt://PATH (default DATA-DIR/state.db), consul://HOST:PORT/PREFIX or memory://")
	f.StringVar(&o.consulDatacenter, "consul-datacenter", "", "Consul datacenter (default: the agent's own)")
	f.StringSliceVar(&o.sans, "tls-san", nil, "extra host names or IPs for the serving certificate")
	f.StringVar(&o.advertise, "advertise-address", "", "the IPv4 address pods reach the API server at (the kubernetes Service's Endpoints; default: the listen address, or the default route's when listening on all)")
	f.DurationVar(&o.metricResolution, "metric-resolution", resourcemetrics.DefaultResolution, "how often the node agents' resource metrics are scraped for metrics.k8s.io (kubectl top, the HPA); 0 turns the metrics API off")
	f.BoolVar(&o.anonymousMetrics, "metrics-anonymous", false, "serve /metrics without authentication (for a Prometheus without the admin token); by default it needs the bearer token like the API")
	f.IntVar(&o.maxInflight, "max-requests-inflight", apiserver.DefaultMaxRequestsInFlight, "the most read-only requests served at once (watches and logs not counted); more are answered 429 with Retry-After; 0: no limit")
	f.IntVar(&o.maxMutating, "max-mutating-requests-inflight", apiserver.DefaultMaxMutatingRequestsInFlight, "the most mutating requests served at once (node and controller-manager heartbeats have a budget of their own); more are answered 429 with Retry-After; 0: no limit")
	f.IntVar(&o.maxConnections, "max-connections", 0, "the most client connections held; at the cap a new one replaces the one idle longest (0: half the open-file limit)")
	f.StringVar(&o.podSecurity, "pod-security-default", "privileged", "the Pod Security Standard (privileged, baseline or restricted) enforced, warned and audited in namespaces without pod-security.kubernetes.io labels")
	o.logging.addFlags(f)
	o.controllers.addFlags(cmd)
}

func newServerCommand(s Streams, _ *clientFlags) *cobra.Command {
	o := &serverOptions{}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the API server (Kubernetes v1 REST over HTTPS) on bolt, Consul or memory storage",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, restore, err := o.logging.setup(s.ErrOut)
			if err != nil {
				return err
			}
			defer restore()
			if err := o.controllers.prepare(cmd); err != nil {
				return err
			}
			if _, err := advertiseAddress(o.advertise, o.listen); err != nil {
				return err
			}
			st, err := openStore(o.store, o.dataDir, o.consulDatacenter, log)
			if err != nil {
				return err
			}
			defer st.Close()
			// One process, two parts: the API server and the controller manager. Either
			// one's failure stops the other and ends the process with its error; the API
			// server stops last.
			p := newParts(cmd.Context())
			ctx := p.Context()
			api, err := apiserver.Listen(ctx, apiserver.RunConfig{
				Store: st, DataDir: o.dataDir, Metrics: o.controllers.metrics, Listen: o.listen, ExtraSANs: o.allSANs(),
				AnonymousMetrics: o.anonymousMetrics, Limits: o.limits(), MaxConnections: o.maxConnections, Logger: log, MetricResolution: o.metricResolutionConfig(), PodSecurityDefault: o.podSecurity,
				ServiceCIDR: o.controllers.serviceCIDR, NodePortMin: o.controllers.nodePortMin(), NodePortMax: o.controllers.nodePortMax()})
			if err != nil {
				return hintSeveral(err, "--listen")
			}
			fmt.Fprintf(s.Out, "drover API server at %s\nkubeconfig: %s\n  export KUBECONFIG=%s\n", api.URL, api.Kubeconfig, api.Kubeconfig)
			p.Server(api.Serve)
			o.controllers.advertise = o.advertiseAt(api.URL)
			p.Go(func(ctx context.Context) error {
				return o.controllers.run(ctx, api.Kubeconfig, o.store, o.dataDir, log)
			})
			return p.Wait()
		},
	}
	o.addFlags(cmd)
	return cmd
}

// limits are the API server's in-flight caps from the flags (0 there means none, as in
// Kubernetes).
func (o *serverOptions) limits() apiserver.Limits {
	unlimited := func(n int) int {
		if n <= 0 {
			return -1
		}
		return n
	}
	return apiserver.Limits{ReadOnly: unlimited(o.maxInflight), Mutating: unlimited(o.maxMutating)}
}

func defaultDataDir() string {
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "drover")
	}
	return "/var/lib/drover"
}

// allSANs are --tls-san and the names pods use (the kubernetes Service's cluster IP and the
// advertise address).
func (o *serverOptions) allSANs() []string {
	ip, _ := advertiseAddress(o.advertise, o.listen)
	return append(append([]string(nil), o.sans...), kubernetesSANs(o.controllers.serviceCIDR, ip)...)
}

// advertiseAt is the advertise address with the port of the API server's URL.
func (o *serverOptions) advertiseAt(apiURL string) netip.AddrPort {
	ip, _ := advertiseAddress(o.advertise, o.listen)
	if !ip.IsValid() {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ip, advertisePort(apiURL))
}
