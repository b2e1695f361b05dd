package app

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// newPauseCommand is the program of drover's pod infra image: the node agent builds that
// image from the static drover binary itself, so no registry is needed. It holds the pod's
// network namespace and exits on SIGTERM or SIGINT.
func newPauseCommand(Streams, *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:    "pause",
		Short:  "Hold a pod's namespaces (the infra container's program)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
			<-sig
			return nil
		},
	}
}
