package app

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/drover-ci/drover/cluster/apiserver"
)

// serverOptions are the flags of `drover server`.
type serverOptions struct {
	controllers      controllerOptions
	dataDir          string
	listen           string
	store            string
	consulDatacenter string
	sans             []string
	logLevel         string
}

func (o *serverOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data-dir", defaultDataDir(), "directory for state.db, the CA, the admin token and the kubeconfig")
	f.StringVar(&o.listen, "listen", "0.0.0.0:6443", "address and port the HTTPS API listens on")
	f.StringVar(&o.store, "store", "", "where state lives: bolt://PATH (default DATA-DIR/state.db), consul://HOST:PORT/PREFIX or memory://")
	f.StringVar(&o.consulDatacenter, "consul-datacenter", "", "Consul datacenter (default: the agent's own)")
	f.StringSliceVar(&o.sans, "tls-san", nil, "extra host names or IPs for the serving certificate")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	o.controllers.addFlags(cmd)
}

func newServerCommand(s Streams, _ *clientFlags) *cobra.Command {
	o := &serverOptions{}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the API server (Kubernetes v1 REST over HTTPS) on bolt, Consul or memory storage",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := setupLogging(s, o.logLevel); err != nil {
				return err
			}
			if err := o.controllers.prepare(cmd); err != nil {
				return err
			}
			st, err := openStore(o.store, o.dataDir, o.consulDatacenter)
			if err != nil {
				return err
			}
			defer st.Close()
			// One process, two parts: the API server and the controller manager. Either
			// one's failure stops the other and ends the process with its error.
			g, ctx := errgroup.WithContext(cmd.Context())
			api, err := apiserver.Listen(ctx, apiserver.RunConfig{
				Store: st, DataDir: o.dataDir, Metrics: o.controllers.metrics, Listen: o.listen, ExtraSANs: o.sans,
				Logger: slog.Default()})
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "drover API server at %s\nkubeconfig: %s\n  export KUBECONFIG=%s\n", api.URL, api.Kubeconfig, api.Kubeconfig)
			g.Go(func() error { return api.Serve(ctx) })
			g.Go(func() error { return o.controllers.run(ctx, api.Kubeconfig, o.store, slog.Default()) })
			return g.Wait()
		},
	}
	o.addFlags(cmd)
	return cmd
}

func defaultDataDir() string {
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "drover")
	}
	return "/var/lib/drover"
}

// setupLogging sends slog text logs to stderr at the given level.
func setupLogging(s Streams, level string) error {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(s.ErrOut, &slog.HandlerOptions{Level: l})))
	return nil
}
