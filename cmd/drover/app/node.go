package app

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"

	"github.com/drover-ci/drover/cluster/container"
	"github.com/drover-ci/drover/cluster/container/docker"
	"github.com/drover-ci/drover/cluster/container/hollow"
	"github.com/drover-ci/drover/cluster/nodeagent"
	"github.com/drover-ci/drover/cluster/volume"
)

// nodeOptions are the flags of `drover node` (and the node part of `drover up`).
type nodeOptions struct {
	name     string
	runtime  string
	count    int
	events   record.EventBroadcaster // shared by the hollow nodes (agents)
	network  string
	subnet   string
	hostGW   bool
	cidrWait time.Duration
	nodeIP   string
	logPort  int
	tlsCert  string
	tlsKey   string
	clientCA string
	// issue, when set, issues the agent's serving certificate (drover up: the CA in process).
	issue      func(cn string, hosts []string) (tls.Certificate, error)
	dataDir    string
	clusterDNS string
	pauseImage string
	pidsLimit  int64
	labels     map[string]string
	net        netOptions
	// The token join (--token ID.SECRET): the API server's CA by hash or file, and the
	// joiner that gives each node agent its own credential (nil: the legacy kubeconfig).
	caHash    string
	caFile    string
	tokenFile string
	join      *joiner
}

func (o *nodeOptions) addFlags(cmd *cobra.Command, withDataDir bool) {
	f := cmd.Flags()
	host, _ := os.Hostname()
	f.StringVar(&o.name, "node-name", host, "name of the Node this agent registers (hollow nodes get -0, -1, ... appended)")
	f.StringVar(&o.runtime, "runtime", "docker", "container runtime: docker (the engine at DOCKER_HOST) or hollow (simulated, for scale tests)")
	f.Int64Var(&o.pidsLimit, "pids-limit", nodeagent.DefaultPidsLimit, "the most processes (threads) each container may run, so a fork bomb in a build cannot take the host (-1: no limit)")
	f.IntVar(&o.count, "count", 1, "number of hollow nodes to run in this process (--runtime=hollow)")
	f.StringVar(&o.network, "network", "drover", "name of the bridge network pods join")
	f.StringVar(&o.subnet, "subnet", "10.88.0.0/16", "pod subnet of the bridge network (CIDR)")
	f.BoolVar(&o.hostGW, "host-gw", false, "several hosts: pod subnet from the Node's spec.podCIDR (drover server --cluster-cidr) instead of --subnet, and host routes to the other nodes' pod subnets via their InternalIP (set --node-ip to the address the other hosts reach)")
	f.DurationVar(&o.cidrWait, "pod-cidr-timeout", 60*time.Second, "with --host-gw: how long to wait for the Node's podCIDR before giving up")
	f.StringVar(&o.nodeIP, "node-ip", "", "the node's InternalIP (default: the first address of an interface that is up)")
	f.IntVar(&o.logPort, "log-port", 10250, "port where the agent serves HTTPS to the API server: container logs, exec, attach, port-forward (0: off)")
	f.StringVar(&o.tlsCert, "tls-cert-file", "", "the agent's serving certificate (PEM), issued from drover's CA for the node's InternalIP (default: requested from the cluster through a kubernetes.io/kubelet-serving CertificateSigningRequest, which drover's controllers approve and sign, and kept as DATA-DIR/pki/kubelet-server.{crt,key}; drover up issues one itself)")
	f.StringVar(&o.tlsKey, "tls-private-key-file", "", "the key of --tls-cert-file")
	f.StringVar(&o.clientCA, "client-ca-file", "", "CA of the API server's client certificate, the only caller the agent lets in (default: the kubeconfig's CA, drover's)")
	if withDataDir {
		f.StringVar(&o.dataDir, "data-dir", defaultDataDir(), "directory for pod volumes (DATA-DIR/pods)")
	}
	f.StringVar(&o.clusterDNS, "cluster-dns", defaultClusterDNS, "nameserver of ClusterFirst pods, served by this node with --dns (\"\": Docker's)")
	f.StringVar(&o.pauseImage, "pause-image", docker.PauseImage, "infra container image, built locally from this binary when missing")
	f.StringToStringVar(&o.labels, "node-labels", nil, "labels to add to the Node (k=v,...)")
	o.net.addFlags(f)
}

// addJoinFlags are `drover node`'s flags of the token join (with the global --server and
// --token).
func (o *nodeOptions) addJoinFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.caHash, "ca-cert-hash", "", "with --token: the API server's CA, pinned by the sha256 hash of its public key (sha256:HEX, as kubeadm join's --discovery-token-ca-cert-hash; drover token create --print-join-command prints it)")
	f.StringVar(&o.caFile, "certificate-authority", "", "with --token: the API server's CA certificate file (instead of --ca-cert-hash)")
	f.StringVar(&o.tokenFile, "token-file", "", "a file holding the bootstrap token (instead of --token, which shows on the command line)")
}

// clusterConfig is how `drover node` reaches the API server: with a bootstrap token (--token
// ID.SECRET --server URL --ca-cert-hash/--certificate-authority), the node's own client
// certificate from the TLS bootstrap (hollow nodes: the address and CA only; agents gives each
// its credential); else, the legacy way, the kubeconfig's credential (the admin's).
func (o *nodeOptions) clusterConfig(ctx context.Context, cf *clientFlags, log *slog.Logger) (*rest.Config, error) {
	token := cf.token
	if o.tokenFile != "" && token != "" {
		return nil, errors.New("--token and --token-file both name the bootstrap token: give one (--token-file keeps it off the command line)")
	}
	if o.tokenFile != "" {
		b, err := os.ReadFile(o.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
		if token = strings.TrimSpace(string(b)); !isBootstrapToken(token) {
			return nil, fmt.Errorf("--token-file %s: not a bootstrap token ([a-z0-9]{6}.[a-z0-9]{16})", o.tokenFile)
		}
	}
	if !isBootstrapToken(token) {
		if o.caHash != "" {
			return nil, errors.New("--ca-cert-hash goes with --token ID.SECRET, a bootstrap token (drover token create)")
		}
		if o.caFile != "" {
			return nil, errors.New("--certificate-authority goes with --token ID.SECRET, a bootstrap token (drover token create); with a kubeconfig its cluster's CA is used")
		}
		cfg, err := cf.clientConfig().ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("loading kubeconfig: %w", err)
		}
		return cfg, nil
	}
	j, err := newJoiner(ctx, cf.server, token, o.caFile, o.caHash, o.dataDir, log)
	if err != nil {
		return nil, err
	}
	o.join = j
	if o.runtime == "hollow" {
		return j.base(), nil
	}
	return j.config(ctx, o.name, "kubelet-client")
}

func (o *nodeOptions) validate() error {
	switch o.runtime {
	case "docker":
		if o.count != 1 {
			return fmt.Errorf("--count %d: only --runtime=hollow runs several nodes in one process", o.count)
		}
	case "hollow":
		if o.count < 1 {
			return fmt.Errorf("--count %d: want at least 1", o.count)
		}
	default:
		return fmt.Errorf("--runtime %q: want docker or hollow", o.runtime)
	}
	if o.name == "" {
		return errors.New("--node-name: required (the host name could not be read)")
	}
	if o.logPort < 0 || o.logPort > 65535 {
		return fmt.Errorf("--log-port %d: want 0-65535", o.logPort)
	}
	return nil
}

func newNodeCommand(s Streams, cf *clientFlags) *cobra.Command {
	o := &nodeOptions{}
	var logging logOptions
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run a node agent: the pods bound to this node as Docker containers (or hollow nodes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, restore, err := logging.setup(s.ErrOut)
			if err != nil {
				return err
			}
			defer restore()
			if err := o.validate(); err != nil {
				return err
			}
			cfg, err := o.clusterConfig(cmd.Context(), cf, log)
			if o.join != nil {
				defer o.join.Stop()
			}
			if err != nil {
				return err
			}
			netsvc, err := o.netServices(cfg, log)
			if err != nil {
				return err
			}
			routes, err := o.routes(cfg, log)
			if err != nil {
				return err
			}
			agents, err := o.agents(cmd.Context(), cfg, s, log)
			if err != nil {
				return err
			}
			if o.events != nil {
				defer o.events.Shutdown()
			}
			return hintSeveral(runAgents(cmd.Context(), agents, netsvc, routes), "")
		},
	}
	o.addFlags(cmd, true)
	o.addJoinFlags(cmd)
	logging.addFlags(cmd.Flags())
	return cmd
}

// clusterIDOf is the ClusterID of the cluster whose API cfg reaches: from its CA certificate
// (the kubeconfig's certificate-authority-data or file), which every node of the cluster has.
func clusterIDOf(cfg *rest.Config) (string, error) {
	ca := cfg.TLSClientConfig.CAData
	if len(ca) == 0 && cfg.TLSClientConfig.CAFile != "" {
		b, err := os.ReadFile(cfg.TLSClientConfig.CAFile)
		if err != nil {
			return "", fmt.Errorf("reading the cluster's CA certificate: %w", err)
		}
		ca = b
	}
	if len(ca) == 0 {
		// A kubeconfig without a CA (--insecure-skip-tls-verify): no id; containers are told
		// apart by node name only, as before.
		return "", nil
	}
	return nodeagent.ClusterID(ca)
}

// agents builds the node agents the options ask for, logging to log.
func (o *nodeOptions) agents(ctx context.Context, cfg *rest.Config, s Streams, log *slog.Logger) ([]*nodeagent.Agent, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 50, 100
	cfg.UserAgent = "drover-node"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("API client: %w", err)
	}
	base := nodeagent.Config{
		Client: client, Network: o.network, Subnet: o.subnet, NodeIP: o.nodeIP, ClusterDNS: o.clusterDNS,
		HostGW: o.hostGW && o.runtime == "docker", PodCIDRTimeout: o.cidrWait,
		PauseImage: o.pauseImage, Labels: o.labels, Logger: log, PidsLimit: o.pidsLimit,
	}
	if base.ClusterID, err = clusterIDOf(cfg); err != nil {
		return nil, err
	}
	if o.runtime != "hollow" {
		// A real node's Lease renewals and status posts have a connection of their own (hollow
		// nodes share their process's: thousands of extra connections would cost more than
		// the nodes).
		if base.HeartbeatClient, err = kubernetes.NewForConfig(ownConnection(cfg, "drover-node-heartbeat", 10*time.Second)); err != nil {
			return nil, fmt.Errorf("API client: %w", err)
		}
	}
	if o.runtime == "hollow" {
		var out []*nodeagent.Agent
		if o.join == nil {
			// One event broadcaster (and correlator cache) for all hollow nodes of the process,
			// not one each; shut down by runE once the agents returned. Joined nodes record with
			// their own credentials, each through its own.
			base.Events = nodeagent.NewEventBroadcaster(context.WithoutCancel(ctx), client)
			o.events = base.Events
		}
		for i := 0; i < o.count; i++ {
			rt := hollow.New(hollow.Options{})
			c := base
			c.NodeName, c.Runtime, c.Probes = fmt.Sprintf("%s-%d", o.name, i), rt, rt.Prober()
			ncfg := cfg
			if o.join != nil {
				// Joined with a token: each hollow node has its own credential.
				if ncfg, err = o.join.config(ctx, c.NodeName, "kubelet-client-"+c.NodeName); err != nil {
					return nil, err
				}
				ncfg.QPS, ncfg.Burst = cfg.QPS, cfg.Burst
			}
			// Each hollow node has its own client (and rate limit), as a real node would: one
			// shared client starves 500 nodes' heartbeats.
			if c.Client, err = kubernetes.NewForConfig(ncfg); err != nil {
				return nil, fmt.Errorf("API client: %w", err)
			}
			c.Labels = withLabel(o.labels, "drover.io/hollow", "true")
			a, err := nodeagent.New(c)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		}
		fmt.Fprintf(s.Out, "running %d hollow nodes (%s-0 ... %s-%d)\n", o.count, o.name, o.name, o.count-1)
		return out, nil
	}
	rt, err := docker.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("docker (DOCKER_HOST=%s): %w", os.Getenv("DOCKER_HOST"), err)
	}
	rt.SetClusterID(base.ClusterID)
	c := base
	c.NodeName, c.Runtime, c.Port = o.name, rt, o.logPort
	if c.TLS, err = o.serverTLS(cfg); err != nil {
		return nil, err
	}
	if c.TLS.Cert == nil && c.TLS.Issue == nil {
		// drover node: a kubelet-serving certificate from the cluster's CA (nodecert.go).
		c.TLS.Issue = csrIssuer(ctx, client, filepath.Join(o.dataDir, "pki"), c.TLS.ClientCA, log)
	}
	if !c.HostGW {
		// The Node's spec.podCIDR is the subnet its pods really get, not one from nodeipam.
		c.PodCIDR = o.subnet
	}
	c.Volumes = volume.NewManager(filepath.Join(o.dataDir, "pods"), client, o.name)
	// Both images are built from this binary when missing: the pause image for infra
	// containers, the tools image (drover at /drover) for pods that run drover's helpers,
	// such as the Jenkins agents' `drover fetch-agent` init container.
	c.EnsureImages = func(ctx context.Context) error {
		if err := docker.EnsurePauseImage(ctx, rt.Client(), o.pauseImage, "", "pause"); err != nil {
			return err
		}
		return docker.EnsureToolsImage(ctx, rt.Client(), container.ToolsImage, "")
	}
	a, err := nodeagent.New(c)
	if err != nil {
		return nil, err
	}
	return []*nodeagent.Agent{a}, nil
}

// serverTLS is the agent server's TLS from the flags: the serving certificate files, and the
// client CA (else the kubeconfig's CA).
func (o *nodeOptions) serverTLS(cfg *rest.Config) (nodeagent.ServerTLS, error) {
	var st nodeagent.ServerTLS
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return st, errors.New("--tls-cert-file and --tls-private-key-file go together")
	}
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return st, fmt.Errorf("--tls-cert-file: %w", err)
		}
		st.Cert = &cert
	}
	caPEM := cfg.CAData
	if o.clientCA != "" || (len(caPEM) == 0 && cfg.CAFile != "") {
		file := cmp.Or(o.clientCA, cfg.CAFile)
		b, err := os.ReadFile(file)
		if err != nil {
			return st, fmt.Errorf("client CA: %w", err)
		}
		caPEM = b
	}
	st.Issue = o.issue
	st.ClientCA = x509.NewCertPool()
	if len(caPEM) == 0 || !st.ClientCA.AppendCertsFromPEM(caPEM) {
		return st, errors.New("no CA to verify the API server's client certificate with: give --client-ca-file or a kubeconfig with the cluster's CA")
	}
	return st, nil
}

func withLabel(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range m {
		out[a] = b
	}
	return out
}

// runAgents runs agents, and the other node services given (nil ones skipped), until ctx
// ends or one fails.
func runAgents(ctx context.Context, agents []*nodeagent.Agent, more ...func(context.Context) error) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, a := range agents {
		g.Go(func() error { return a.Run(ctx) })
	}
	for _, run := range more {
		if run != nil {
			g.Go(func() error { return run(ctx) })
		}
	}
	return g.Wait()
}

var _ container.Runtime = (*docker.Runtime)(nil)
