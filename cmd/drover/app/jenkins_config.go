package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"sigs.k8s.io/yaml"

	"github.com/drover-ci/drover/cloud/config"
)

// jenkinsSection is the key of drover's configuration file that holds the Jenkins cloud
// configuration (cloud/config's fields, as the Kubernetes plugin names them).
const jenkinsSection = "jenkins"

// loadJenkinsConfig returns the static Jenkins cloud configuration: the `jenkins:` section of
// drover's configuration file (--config, $DROVER_CONFIG) or the file given to
// --jenkins-config; nil when neither is given (the provider then follows the ConfigMap
// `drover jenkins install` writes). It is loaded strictly and validated: every problem is
// named by its field path (jenkins.templates[0].image: required).
func loadJenkinsConfig(cmd *cobra.Command, jenkinsFile string) (*config.Config, error) {
	droverFile := ""
	if f := cmd.Flags().Lookup("config"); f != nil {
		droverFile = f.Value.String()
	}
	if droverFile == "" {
		droverFile = os.Getenv("DROVER_CONFIG")
	}
	section, err := jenkinsSectionOf(droverFile)
	if err != nil {
		return nil, err
	}
	var data []byte
	var prefix, where string
	switch {
	case section != nil && jenkinsFile != "":
		return nil, fmt.Errorf("the Jenkins cloud is configured twice: in the %q section of %s and by --jenkins-config %s", jenkinsSection, droverFile, jenkinsFile)
	case section != nil:
		data, prefix, where = section, jenkinsSection+".", droverFile
	case jenkinsFile != "":
		if data, err = os.ReadFile(jenkinsFile); err != nil {
			return nil, fmt.Errorf("--jenkins-config: %w", err)
		}
		where = jenkinsFile
	default:
		return nil, nil
	}
	cfg, err := config.Load(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", where, strings.TrimSuffix(prefix, "."), err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: invalid Jenkins cloud configuration:\n%s", where, prefixLines(err, prefix))
	}
	return cfg, nil
}

// jenkinsSectionOf returns the `jenkins:` section of drover's configuration file as YAML,
// nil when there is no file or no section. viper finds the section; its value is read again
// from the file with sigs.k8s.io/yaml because viper lowercases keys and the Jenkins names are
// case-sensitive (jenkinsUrl, webSocket).
func jenkinsSectionOf(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	v := viper.New()
	v.SetConfigFile(path)
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("reading config file %s: %w", path, err)
	}
	if !v.IsSet(jenkinsSection) {
		return nil, nil
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml", ".json", "":
	default:
		return nil, fmt.Errorf("%s: the %q section needs a YAML or JSON configuration file (its keys are case-sensitive); or use --jenkins-config", path, jenkinsSection)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	section, ok := doc[jenkinsSection]
	if !ok || section == nil {
		return nil, fmt.Errorf("%s: the %q section must be spelled in lower case", path, jenkinsSection)
	}
	return yaml.Marshal(section)
}

// prefixLines puts prefix before each problem of a joined validation error.
func prefixLines(err error, prefix string) string {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = "  " + prefix + l
	}
	return strings.Join(lines, "\n")
}
