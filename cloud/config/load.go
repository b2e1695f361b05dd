package config

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Load decodes a YAML or JSON configuration strictly (an unknown or
// duplicate field is an error naming it) and applies the defaults. It does
// not validate: call Validate. Field names are case-sensitive, as the
// Kubernetes plugin spells them (webSocket, not websocket).
func Load(data []byte) (*Config, error) {
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var c Config
	strict, err := kjson.UnmarshalStrict(js, &c)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := errors.Join(strict...); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c.Default()
	return &c, nil
}

// Default fills the unset fields that have defaults.
func (c *Config) Default() {
	if c.PollInterval.Duration == 0 {
		c.PollInterval.Duration = DefaultPollInterval
	}
	for i := range c.Templates {
		t := &c.Templates[i]
		if t.RemoteFS == "" {
			t.RemoteFS = DefaultRemoteFS
		}
		if t.Mode == "" {
			t.Mode = DefaultMode
		}
	}
}

// ProviderNamespace is Namespace, or DefaultNamespace when it is empty.
func (c *Config) ProviderNamespace() string {
	if c.Namespace != "" {
		return c.Namespace
	}
	return DefaultNamespace
}

// Labels returns the template's labels (Label split on white space).
func (t Template) Labels() []string {
	return strings.Fields(t.Label)
}

const redacted = "<redacted>"

// String redacts the credentials.
func (c Credentials) String() string {
	return fmt.Sprintf("{user:%s token:%s}", c.User, redacted)
}

// GoString redacts the credentials.
func (c Credentials) GoString() string { return c.String() }

// LogValue redacts the credentials.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user", c.User), slog.String("token", redacted))
}

// String summarises the configuration with the credentials redacted.
func (c Config) String() string {
	names := make([]string, 0, len(c.Templates))
	for _, t := range c.Templates {
		names = append(names, t.Name)
	}
	return fmt.Sprintf("{url:%s credentials:%s jenkinsUrl:%s namespace:%s containerCap:%d pollInterval:%s templates:%v}",
		c.URL, c.Credentials, c.JenkinsURL, c.Namespace, c.ContainerCap, c.PollInterval.Duration, names)
}

// GoString is String, so %#v does not print the credentials either.
func (c Config) GoString() string { return c.String() }

// LogValue logs the configuration with the credentials redacted.
func (c Config) LogValue() slog.Value {
	names := make([]string, 0, len(c.Templates))
	for _, t := range c.Templates {
		names = append(names, t.Name)
	}
	return slog.GroupValue(
		slog.String("url", c.URL),
		slog.Any("credentials", c.Credentials),
		slog.String("jenkinsUrl", c.JenkinsURL),
		slog.String("namespace", c.Namespace),
		slog.Int("containerCap", c.ContainerCap),
		slog.Duration("pollInterval", c.PollInterval.Duration),
		slog.Any("templates", names),
	)
}
