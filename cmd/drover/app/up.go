package app

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-ci/drover/cluster/apiserver"
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
			api, err := apiserver.Listen(ctx, apiserver.RunConfig{
				Store: st, DataDir: so.dataDir, Metrics: so.controllers.metrics, Listen: so.listen, ExtraSANs: so.allSANs(),
				AnonymousMetrics: so.anonymousMetrics, Limits: so.limits(), MaxConnections: so.maxConnections, Logger: log, MetricResolution: so.metricResolutionConfig(), PodSecurityDefault: so.podSecurity,
				ServiceCIDR: so.controllers.serviceCIDR, NodePortMin: so.controllers.nodePortMin(), NodePortMax: so.controllers.nodePortMax()})
			if err != nil {
				return hintSeveral(err, "--listen")
			}
			fmt.Fprintf(s.Out, "drover API server at %s\nkubeconfig: %s\n  export KUBECONFIG=%s\n", api.URL, api.Kubeconfig, api.Kubeconfig)
			p.Server(api.Serve)
			so.controllers.advertise = so.advertiseAt(api.URL)
			p.Go(func(ctx context.Context) error {
				return so.controllers.run(ctx, api.Kubeconfig, so.store, so.dataDir, log)
			})
			cfg, err := clientcmd.BuildConfigFromFlags("", api.Kubeconfig)
			if err != nil {
				return stop(fmt.Errorf("loading %s: %w", api.Kubeconfig, err))
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
			p.Go(func(ctx context.Context) error { return hintSeveral(runAgents(ctx, agents, netsvc, routes), "") })
			fmt.Fprintf(s.Out, "node %s: running pods on %s\n", no.name, no.runtime)
			return p.Wait()
		},
	}
	so.addFlags(cmd)
	no.addFlags(cmd, false)
	return cmd
}
