package consulstore

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/consul/api"
)

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("CONSUL_HTTP_ADDR", "consul.example:8501")
	t.Setenv("CONSUL_HTTP_TOKEN", "secret")
	t.Setenv("CONSUL_HTTP_SSL", "true")
	t.Setenv("CONSUL_CACERT", "/etc/ca.pem")
	t.Setenv("CONSUL_CLIENT_CERT", "/etc/c.pem")
	t.Setenv("CONSUL_CLIENT_KEY", "/etc/c.key")
	t.Setenv("CONSUL_TLS_SERVER_NAME", "consul.internal")
	got := ConfigFromEnv("", "drover/")
	want := Config{
		Address: "consul.example:8501", Scheme: "https", Prefix: "drover/", Token: "secret",
		TLS: api.TLSConfig{Address: "consul.internal", CAFile: "/etc/ca.pem", CertFile: "/etc/c.pem", KeyFile: "/etc/c.key"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ConfigFromEnv (-want +got):\n%s", diff)
	}
	if got := ConfigFromEnv("10.0.0.1:8500", "x/"); got.Address != "10.0.0.1:8500" || got.Token != "secret" {
		t.Errorf("explicit address: %+v", got)
	}
}

func TestConfigWithDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	if c.Timeout != DefaultTimeout || c.WaitTime != DefaultWaitTime || c.History != DefaultHistory || c.Logger == nil {
		t.Errorf("defaults not applied: %+v", c)
	}
}
