package app

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/drover-ci/drover/cluster/apiserver"
)

// Version is drover's version, set at build time with
// -ldflags "-X github.com/drover-ci/drover/cmd/drover/app.Version=v0.1.0".
var Version = ""

// clientVersion returns Version, else the module version recorded in the binary, else "dev".
func clientVersion() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func newVersionCommand(s Streams, cf *clientFlags) *cobra.Command {
	var clientOnly bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the client version and the API server's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(s.Out, "Client Version: %s\n", clientVersion())
			if info := apiserver.VersionInfo(); info.GitCommit != "" {
				fmt.Fprintf(s.Out, "Client Commit: %s (%s), built %s\n", info.GitCommit, info.GitTreeState, info.BuildDate)
			}
			if clientOnly {
				return nil
			}
			c, err := cf.connect()
			if err != nil {
				return err
			}
			info, err := c.discovery.ServerVersion()
			if err != nil {
				return fmt.Errorf("reading server version: %w", err)
			}
			fmt.Fprintf(s.Out, "Server Version: %s\n", info.GitVersion)
			return nil
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "print the client version only")
	return cmd
}
