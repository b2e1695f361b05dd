package app

import (
	"github.com/spf13/cobra"
)

// defaultJenkinsNamespace is where `drover jenkins` installs and looks when -n is not given.
const defaultJenkinsNamespace = "jenkins"

// newJenkinsCommand is `drover jenkins install|uninstall|status|open`.
func newJenkinsCommand(s Streams, cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jenkins",
		Short: "Install, remove and inspect a Jenkins controller and drover's Jenkins cloud provider",
	}
	cmd.AddCommand(newJenkinsInstallCommand(s, cf), newJenkinsUninstallCommand(s, cf), newJenkinsStatusCommand(s, cf), newJenkinsOpenCommand(s, cf))
	// Reaching the installed Jenkins: where it answers and who to log in as, and a build end to end.
	cmd.AddCommand(newJenkinsInfoCommand(s, cf), newJenkinsPasswordCommand(s, cf), newJenkinsDemoCommand(s, cf))
	return cmd
}

// jenkinsNamespace is -n/--namespace when given, else "jenkins".
func jenkinsNamespace(cmd *cobra.Command, cf *clientFlags) string {
	if f := cmd.Flags().Lookup("namespace"); f != nil && f.Changed && cf.namespace != "" {
		return cf.namespace
	}
	return defaultJenkinsNamespace
}
