package app

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/rest"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/rbac"
)

// newUpCommand runs the single-machine default: the API server on the embedded store, the
// controllers that exist, and one node agent on the local Docker engine, in one process.
func newUpCommand(s Streams, _ *clientFlags) *cobra.Command {
	so := &serverOptions{}
	no := &nodeOptions{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run drover on this machine: API server (embedded store) and a node agent on the local Docker engine",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, restore, err := so.logging.setup(s.ErrOut)
			if err != nil {
				return err
			}
			defer restore()
			if err := no.validate(); err != nil {
				return err
			}
			if err := so.checkFlags(true); err != nil {
				return err
			}
			if err := so.controllers.prepare(cmd); err != nil {
				return err
			}
			if _, err := advertiseAddress(so.advertise, so.listen); err != nil {
				return err
			}
			st, err := openStore(so.store, so.dataDir, so.consulDatacenter, log)
			if err != nil {
				return err
			}
			defer st.Close()
			no.dataDir = so.dataDir
			// One process of three parts: the API server, the controller manager and the
			// node (agent, DNS, service proxy). Any part's failure stops the others and ends
			// the process with its error; each part cleans up (addresses on lo, listeners)
			// before Wait returns, and the API server stops last.
			base, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			p := newParts(base)
			ctx := p.Context()
			// stop ends the parts started so far and returns err once they are done.
			stop := func(err error) error {
				cancel()
				_ = p.Wait()
				return err
			}
			so.startProfiling()
			api, err := apiserver.Listen(ctx, apiserver.RunConfig{
				WatchCache: watchCacheFor(so.store),
				Store:      st, PodSecurityExemptions: so.podSecurityExempt, DataDir: so.dataDir, Metrics: so.controllers.metrics, Listen: so.listen, ExtraSANs: so.allSANs(),
				AnonymousMetrics: so.anonymousMetrics, Profiling: so.profiling, Limits: so.limits(), MaxConnections: so.maxConnections, Logger: log, MetricResolution: so.metricResolutionConfig(), PodSecurityDefault: so.podSecurity, AuthorizationMode: so.authzMode, EventTTL: so.eventTTL,
				ServiceCIDR: so.controllers.serviceCIDR, NodePortMin: so.controllers.nodePortMin(), NodePortMax: so.controllers.nodePortMax()})
			if err != nil {
				return hintSeveral(err, "--listen")
			}
			fmt.Fprintf(s.Out, "drover API server at %s\nkubeconfig: %s\n  export KUBECONFIG=%s\n", api.URL, api.Kubeconfig, api.Kubeconfig)
			p.Server(api.Serve)
			so.controllers.advertise = so.advertiseAt(api.URL)
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
				return so.controllers.run(ctx, cm, pc, so.store, so.dataDir, log)
			})
			// The node agent's own credential, system:node:NAME in system:nodes, straight from
			// the CA in this process (drover node gets it through a CSR).
			cfg, err := nodeCredential(api, no.name)
			if err != nil {
				return stop(err)
			}
			netsvc, err := no.netServices(cfg, log)
			if err != nil {
				return stop(err)
			}
			routes, err := no.routes(cfg, log)
			if err != nil {
				return stop(err)
			}
			// The node agent's serving certificate comes from the CA in this process.
			no.issue = api.PKI.IssueServing
			agents, err := no.agents(ctx, cfg, s, log)
			if err != nil {
				return stop(err)
			}
			p.Go(func(ctx context.Context) error {
				if no.events != nil {
					defer no.events.Shutdown()
				}
				return hintSeveral(runAgents(ctx, agents, netsvc, routes), "")
			})
			fmt.Fprintf(s.Out, "node %s: running pods on %s\n", no.name, no.runtime)
			return p.Wait()
		},
	}
	so.addFlags(cmd)
	no.addFlags(cmd, false)
	return cmd
}

// nodeCredential is the client configuration of drover up's node agent: a client certificate
// for system:node:NAME in system:nodes issued by the CA in this process (hollow nodes,
// --count, are not run by drover up).
func nodeCredential(api *apiserver.Listening, name string) (*rest.Config, error) {
	return componentConfig(api, "system:node:"+name, user.NodesGroup)
}

// componentConfig is the client configuration of one of drover's components in the API
// server's process: the API server's URL and CA, and a client certificate for name in groups
// issued by the CA in memory (it never touches the disk).
func componentConfig(api *apiserver.Listening, name string, groups ...string) (*rest.Config, error) {
	c, err := api.PKI.IssueUser(name, groups...)
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := apiserver.EncodeCertificate(c)
	if err != nil {
		return nil, err
	}
	return &rest.Config{Host: api.URL, TLSClientConfig: rest.TLSClientConfig{CAData: api.PKI.CACertPEM, CertData: certPEM, KeyData: keyPEM}}, nil
}
