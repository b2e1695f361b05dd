package consulstore

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/hashicorp/consul/api"
)

// Defaults for the zero values of Config.
const (
	DefaultTimeout  = 10 * time.Second
	DefaultWaitTime = time.Minute
	DefaultHistory  = 10000
	// DefaultMaxConns caps a client's connections to Consul, below the 200 per client address
	// Consul allows by default (limits.http_max_conns_per_client): a Store's requests, its
	// watch and other users of Config.Client each have their own client.
	DefaultMaxConns = 64
)

// Config says how to reach Consul and where drover's keys live.
//
// Empty connection fields fall back to the standard Consul environment, as consul/api does:
// CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, CONSUL_HTTP_TOKEN_FILE, CONSUL_HTTP_AUTH,
// CONSUL_HTTP_SSL, CONSUL_HTTP_SSL_VERIFY, CONSUL_CACERT, CONSUL_CAPATH, CONSUL_CLIENT_CERT,
// CONSUL_CLIENT_KEY and CONSUL_TLS_SERVER_NAME. ConfigFromEnv reads them explicitly.
type Config struct {
	// Address is host:port, http://host:port or https://host:port ("": CONSUL_HTTP_ADDR, else
	// 127.0.0.1:8500).
	Address string
	// Scheme is "http" or "https" ("": from Address, else CONSUL_HTTP_SSL, else http).
	Scheme string
	// Prefix is prepended to every key, e.g. "drover/"; a missing trailing "/" is added.
	Prefix     string
	Token      string // ACL token
	TokenFile  string // file holding the ACL token; wins over Token
	Datacenter string // "": the agent's own
	// TLS holds the CA, client certificate and server name for https.
	TLS api.TLSConfig
	// Timeout bounds every request but the watch's blocking queries (default 10 s): a hung
	// Consul then yields store.ErrUnavailable instead of a hung API request.
	Timeout time.Duration
	// WaitTime is the longest a blocking query waits for a change (default 1 min).
	WaitTime time.Duration
	// History is how many watch events are kept for resuming watches (default 10000).
	History int
	// Logger receives the watch loop's errors (default slog.Default()).
	Logger *slog.Logger
	// MaxConns caps the connections of each client made from this Config (default
	// DefaultMaxConns); more requests at once wait for a connection.
	MaxConns int
}

// ConfigFromEnv returns a Config read from the CONSUL_HTTP_* environment (see Config), with
// address and prefix set when they are not empty.
func ConfigFromEnv(address, prefix string) Config {
	d := api.DefaultConfig()
	cfg := Config{
		Address:   d.Address,
		Scheme:    d.Scheme,
		Prefix:    prefix,
		Token:     d.Token,
		TokenFile: d.TokenFile,
		TLS:       d.TLSConfig,
	}
	if address != "" {
		cfg.Address = address
	}
	return cfg
}

func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.WaitTime <= 0 {
		c.WaitTime = DefaultWaitTime
	}
	if c.History <= 0 {
		c.History = DefaultHistory
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	return c
}

// client builds a consul/api client whose HTTP requests time out after timeout.
// Client returns a consul/api client for c (the environment fills what c leaves empty), with
// c's request timeout: for other users of the same Consul, such as the catalog controller.
func (c Config) Client() (*api.Client, error) {
	c = c.withDefaults()
	return c.client(c.Timeout)
}

// client builds a client; c has its defaults.
func (c Config) client(timeout time.Duration) (*api.Client, error) {
	ac := api.DefaultConfig()
	if c.Address != "" {
		ac.Address = c.Address
	}
	if c.Scheme != "" {
		ac.Scheme = c.Scheme
	}
	if c.Token != "" {
		ac.Token = c.Token
	}
	if c.TokenFile != "" {
		ac.TokenFile = c.TokenFile
	}
	ac.Datacenter = c.Datacenter
	mergeTLS(&ac.TLSConfig, c.TLS)
	ac.Transport.MaxIdleConnsPerHost = 16
	ac.Transport.MaxConnsPerHost = c.MaxConns
	hc, err := api.NewHttpClient(ac.Transport, ac.TLSConfig)
	if err != nil {
		return nil, fmt.Errorf("consulstore: TLS settings: %w", err)
	}
	hc.Timeout = timeout
	ac.HttpClient = hc
	cl, err := api.NewClient(ac)
	if err != nil {
		return nil, fmt.Errorf("consulstore: consul client for %s: %w", c.Address, err)
	}
	return cl, nil
}

// mergeTLS overrides the environment's TLS settings with the ones set in c.
func mergeTLS(dst *api.TLSConfig, c api.TLSConfig) {
	set := func(d *string, v string) {
		if v != "" {
			*d = v
		}
	}
	set(&dst.Address, c.Address)
	set(&dst.CAFile, c.CAFile)
	set(&dst.CAPath, c.CAPath)
	set(&dst.CertFile, c.CertFile)
	set(&dst.KeyFile, c.KeyFile)
	if len(c.CAPem) > 0 {
		dst.CAPem = c.CAPem
	}
	if len(c.CertPEM) > 0 {
		dst.CertPEM, dst.KeyPEM = c.CertPEM, c.KeyPEM
	}
	dst.InsecureSkipVerify = dst.InsecureSkipVerify || c.InsecureSkipVerify
}
