package app

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/rbac"
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
	profiling        bool
	contention       bool
	maxInflight      int
	maxMutating      int
	maxConnections   int
	logging          logOptions
	metricResolution time.Duration
	podSecurity      string
	uploadCerts      bool
	certKeyFile      string
	authzMode        string
	eventTTL         time.Duration

	// podSecurityExempt: --pod-security-exempt-*.
	podSecurityExempt apiserver.PodSecurityExemptions
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
	f.BoolVar(&o.profiling, "profiling", false, "serve Go's profiles at /debug/pprof/ to authenticated callers allowed the non-resource URL (system:masters, the admin token), as kube-apiserver's --profiling")
	f.BoolVar(&o.contention, "contention-profiling", false, "with --profiling: record where goroutines block and wait for mutexes (the block and mutex profiles; costs some CPU), as kube-apiserver's --contention-profiling")
	f.BoolVar(&o.anonymousMetrics, "metrics-anonymous", false, "serve /metrics without authentication (for a Prometheus without the admin token); by default it needs the bearer token like the API")
	f.IntVar(&o.maxInflight, "max-requests-inflight", apiserver.DefaultMaxRequestsInFlight, "the most read-only requests served at once (watches and logs not counted); more are answered 429 with Retry-After; 0: no limit")
	f.IntVar(&o.maxMutating, "max-mutating-requests-inflight", apiserver.DefaultMaxMutatingRequestsInFlight, "the most mutating requests served at once (node and controller-manager heartbeats have a budget of their own); more are answered 429 with Retry-After; 0: no limit")
	f.IntVar(&o.maxConnections, "max-connections", 0, "the most client connections held; at the cap a new one replaces the one idle longest (0: half the open-file limit)")
	f.StringVar(&o.podSecurity, "pod-security-default", "privileged", "the Pod Security Standard (privileged, baseline or restricted) enforced, warned and audited in namespaces without pod-security.kubernetes.io labels")
	f.StringSliceVar(&o.podSecurityExempt.Usernames, "pod-security-exempt-usernames", nil, "users whose requests Pod Security Admission never evaluates (PodSecurityConfiguration exemptions.usernames)")
	f.StringSliceVar(&o.podSecurityExempt.Namespaces, "pod-security-exempt-namespaces", nil, "namespaces whose pods Pod Security Admission never evaluates (exemptions.namespaces)")
	f.StringSliceVar(&o.podSecurityExempt.RuntimeClasses, "pod-security-exempt-runtime-classes", nil, "runtime class names whose pods Pod Security Admission never evaluates (exemptions.runtimeClasses)")
	f.StringVar(&o.authzMode, "authorization-mode", apiserver.AuthorizationModeRBAC, "how requests are authorized: RBAC (Roles, ClusterRoles and their bindings, with Kubernetes' default roles) or AlwaysAllow (every authenticated client may do everything); system:masters (the admin token) is always allowed")
	f.DurationVar(&o.eventTTL, "event-ttl", apiserver.DefaultEventTTL, "how long Events are kept after their last write, as kube-apiserver's --event-ttl")
	f.BoolVar(&o.uploadCerts, "upload-certs", false, "put the CA, the ServiceAccount signing key and the admin token, encrypted with the certificate key (--certificate-key-file, else DATA-DIR/certificate-key, made when missing), into the Secret kube-system/drover-certs, for other servers over the same store to join with (kubeadm init --upload-certs)")
	f.StringVar(&o.certKeyFile, "certificate-key-file", "", "the certificate key's file: with --upload-certs the key to encrypt with; without it, on a data dir with no CA yet, join: take the CA, keys and admin token from the store's drover-certs Secret (kubeadm join --certificate-key)")
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
			if err := o.checkFlags(false); err != nil {
				return err
			}
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
			if !o.uploadCerts {
				if err := joinCerts(cmd.Context(), st, o.dataDir, o.certKeyFile, log); err != nil {
					return err
				}
			}
			// One process, two parts: the API server and the controller manager. Either
			// one's failure stops the other and ends the process with its error; the API
			// server stops last.
			o.startProfiling()
			p := newParts(cmd.Context())
			ctx := p.Context()
			api, err := apiserver.Listen(ctx, apiserver.RunConfig{
				WatchCache: watchCacheFor(o.store),
				Store:      st, PodSecurityExemptions: o.podSecurityExempt, DataDir: o.dataDir, Metrics: o.controllers.metrics, Listen: o.listen, ExtraSANs: o.allSANs(),
				AnonymousMetrics: o.anonymousMetrics, Profiling: o.profiling, Limits: o.limits(), MaxConnections: o.maxConnections, Logger: log, MetricResolution: o.metricResolutionConfig(), PodSecurityDefault: o.podSecurity, AuthorizationMode: o.authzMode, EventTTL: o.eventTTL,
				ServiceCIDR: o.controllers.serviceCIDR, NodePortMin: o.controllers.nodePortMin(), NodePortMax: o.controllers.nodePortMax()})
			if err != nil {
				return hintSeveral(err, "--listen")
			}
			fmt.Fprintf(s.Out, "drover API server at %s\nkubeconfig: %s\n  export KUBECONFIG=%s\njoin a node: drover token create --print-join-command (with that kubeconfig) prints the drover node command\n", api.URL, api.Kubeconfig, api.Kubeconfig)
			p.Server(api.Serve)
			if o.uploadCerts {
				p.Go(func(ctx context.Context) error {
					return uploadCerts(ctx, api.Kubeconfig, o.dataDir, o.certKeyFile, s.Out, log)
				})
			}
			o.controllers.advertise = o.advertiseAt(api.URL)
			p.Go(func(ctx context.Context) error {
				// The controller manager and the Jenkins cloud provider in it run as their
				// own users, not the admin: the admin token is only the operator's.
				cm, err := componentConfig(api, user.KubeControllerManager)
				if err != nil {
					return err
				}
				pc, err := componentConfig(api, rbac.JenkinsProvider)
				if err != nil {
					return err
				}
				return o.controllers.run(ctx, cm, pc, o.store, o.dataDir, log)
			})
			return p.Wait()
		},
	}
	o.addFlags(cmd)
	return cmd
}

// limits are the API server's in-flight caps from the flags (0 there means none, as in
// Kubernetes).
// checkFlags refuses combinations that would otherwise be accepted and ignored; up says the
// options are drover up's, which runs the only server of its data dir (no certificates to
// upload or join with).
func (o *serverOptions) checkFlags(up bool) error {
	if o.contention && !o.profiling {
		return errors.New("--contention-profiling records the block and mutex profiles /debug/pprof/ serves: it needs --profiling")
	}
	if o.eventTTL <= 0 {
		return fmt.Errorf("--event-ttl %s: must be positive (Events are kept that long after their last write)", o.eventTTL)
	}
	if up && o.uploadCerts {
		return errors.New("--upload-certs is a drover server flag: drover up runs the only API server of its data dir, no other server joins it")
	}
	if up && o.certKeyFile != "" {
		return errors.New("--certificate-key-file is a drover server flag: drover up runs the only API server of its data dir, no other server joins it")
	}
	return nil
}

// startProfiling turns on the runtime's block and mutex profiles when --profiling and
// --contention-profiling ask for them (a setting of this process's runtime).
func (o *serverOptions) startProfiling() {
	if o.profiling && o.contention {
		runtime.SetBlockProfileRate(1)
		runtime.SetMutexProfileFraction(1)
	}
}

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
