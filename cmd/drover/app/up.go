package app

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-ci/drover/cluster/apiserver"
)

func init() { extraCommands = append(extraCommands, newUpCommand) }

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
			if err := setupLogging(s, so.logLevel); err != nil {
				return err
			}
			if err := no.validate(); err != nil {
				return err
			}
			if err := so.controllers.prepare(cmd); err != nil {
				return err
			}
			st, err := openStore(so.store, so.dataDir, so.consulDatacenter)
			if err != nil {
				return err
			}
			defer st.Close()
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			no.dataDir = so.dataDir
			// The agent serves logs to the server in-process; it exists once the server is up.
			var mu sync.Mutex
			var logs http.Handler
			logHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				h := logs
				mu.Unlock()
				if h == nil {
					http.Error(w, "the node agent is starting", http.StatusServiceUnavailable)
					return
				}
				h.ServeHTTP(w, r)
			})
			ready := make(chan string, 1)
			errc := make(chan error, 2)
			go func() {
				errc <- apiserver.Run(ctx, apiserver.RunConfig{
					Store: st, DataDir: so.dataDir, Metrics: so.controllers.metrics, Listen: so.listen, ExtraSANs: so.sans, Logs: logHandler,
					Ready: func(url, kubeconfig string) {
						fmt.Fprintf(s.Out, "drover API server at %s\nkubeconfig: %s\n  export KUBECONFIG=%s\n", url, kubeconfig, kubeconfig)
						ready <- kubeconfig
					},
				})
			}()
			var kubeconfig string
			select {
			case kubeconfig = <-ready:
			case err := <-errc:
				return err
			}
			if err := so.controllers.start(ctx, kubeconfig, so.store); err != nil {
				return err
			}
			cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
			if err != nil {
				return fmt.Errorf("loading %s: %w", kubeconfig, err)
			}
			netsvc, err := no.netServices(cfg)
			if err != nil {
				return err
			}
			agents, err := no.agents(ctx, cfg, s)
			if err != nil {
				return err
			}
			mu.Lock()
			logs = agents[0].LogHandler()
			mu.Unlock()
			go func() { errc <- runAgents(ctx, agents, netsvc) }()
			fmt.Fprintf(s.Out, "node %s: running pods on %s\n", no.name, no.runtime)
			err = <-errc
			cancel()
			// Let the other half finish its cleanup (addresses on lo, listeners) before exiting.
			select {
			case <-errc:
			case <-time.After(15 * time.Second):
			}
			return err
		},
	}
	so.addFlags(cmd)
	no.addFlags(cmd, false)
	return cmd
}
