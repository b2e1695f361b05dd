// Package app is the drover command line: the server and node commands and client verbs
// (get, describe, create, apply, delete, scale, logs, rolling-update) for people without kubectl.
// Configuration comes from flags, DROVER_* environment variables and an optional config file;
// viper is used here only, and components receive typed configuration.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Streams are the standard streams of a command.
type Streams struct {
	In          io.Reader
	Out, ErrOut io.Writer
}

// Run executes the drover command line with args (without the program name).
func Run(ctx context.Context, args []string, s Streams) error {
	root := newRootCommand(s)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

func newRootCommand(s Streams) *cobra.Command {
	v := viper.New()
	cf := &clientFlags{}
	var configFile string
	root := &cobra.Command{
		Use:           "drover",
		Short:         "Run Jenkins on plain Docker hosts with a Kubernetes-compatible orchestrator",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return bindConfig(v, cmd, configFile)
		},
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.ErrOut)
	pf := root.PersistentFlags()
	pf.StringVar(&configFile, "config", "", "config file (YAML, JSON or TOML) whose keys are flag names")
	cf.addFlags(pf)
	root.AddCommand(
		newGetCommand(s, cf),
		newDescribeCommand(s, cf),
		newCreateCommand(s, cf),
		newApplyCommand(s, cf),
		newDeleteCommand(s, cf),
		newScaleCommand(s, cf),
		newLogsCommand(s, cf),
		newExecCommand(s, cf),
		newPortForwardCommand(s, cf),
		newCpCommand(s, cf),
		newRollingUpdateCommand(s, cf),
		newVersionCommand(s, cf),
		newCompletionCommand(s),
		// The processes: the orchestrator on one machine, or split over several.
		newUpCommand(s, cf),
		newServerCommand(s, cf),
		newNodeCommand(s, cf),
		newTokenCommand(s, cf),
		// Jenkins on drover.
		newJenkinsCommand(s, cf),
		// Helpers that run inside drover's own images.
		newFetchAgentCommand(s, cf),
		newPauseCommand(s, cf),
	)
	return root
}

// bindConfig fills every flag of cmd the user did not set from DROVER_<FLAG> (dashes become
// underscores) or from the config file key of the same name as the flag.
func bindConfig(v *viper.Viper, cmd *cobra.Command, configFile string) error {
	v.SetEnvPrefix("DROVER")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	if configFile == "" {
		configFile = v.GetString("config")
	}
	if configFile != "" {
		v.SetConfigFile(configFile)
		if err := v.ReadInConfig(); err != nil {
			return fmt.Errorf("reading config file %s: %w", configFile, err)
		}
	}
	var errs []error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "config" || f.Name == "help" || !v.IsSet(f.Name) {
			return
		}
		val := v.Get(f.Name)
		if list, ok := val.([]interface{}); ok {
			for _, item := range list {
				if err := f.Value.Set(fmt.Sprint(item)); err != nil {
					errs = append(errs, fmt.Errorf("--%s from configuration: %w", f.Name, err))
				}
			}
			return
		}
		if err := cmd.Flags().Set(f.Name, fmt.Sprint(val)); err != nil {
			errs = append(errs, fmt.Errorf("--%s from configuration: %w", f.Name, err))
		}
	})
	return errors.Join(errs...)
}
