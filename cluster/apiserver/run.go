package apiserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/drover-ci/drover/cluster/satoken"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/drover-ci/drover/cluster/store"
)

// RunConfig configures Listen: a complete HTTPS API server with its data directory.
type RunConfig struct {
	Store   store.Store
	DataDir string // pki/, admin.token and kubeconfig live here
	Listen  string // host:port; port 0 picks a free one
	// ExtraSANs are added to the serving certificate (localhost, 127.0.0.1, ::1, the host
	// name and the listen host are always there).
	ExtraSANs []string
	// Metrics is served at /metrics (nil: prometheus.DefaultGatherer), to authenticated
	// clients unless AnonymousMetrics.
	Metrics          prometheus.Gatherer
	AnonymousMetrics bool
	// Profiling is Config.Profiling.
	Profiling bool
	// PodSecurityDefault is Config.PodSecurityDefault.
	PodSecurityDefault string
	// PodSecurityExemptions is Config.PodSecurityExemptions.
	PodSecurityExemptions PodSecurityExemptions
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// Limits caps requests in flight (zero value: Kubernetes' defaults); MaxConnections the
	// connections held (0: DefaultMaxConnections, half the open-file limit).
	Limits         Limits
	MaxConnections int
	// MetricResolution is the resource metrics scrape interval (0: 15 s; negative: off).
	MetricResolution time.Duration
	// ServiceCIDR and NodePortMin/NodePortMax: as in Config.
	ServiceCIDR              string
	NodePortMin, NodePortMax int
	// Now is the server's clock (nil: time.Now); tests move it to expire tokens.
	Now func() time.Time
	// WatchCache configures the watch cache (zero value: on, defaults).
	WatchCache WatchCache
	// AuthorizationMode and Authorizers: as in Config.
	AuthorizationMode string
	Authorizers       []authorizer.Authorizer
	// EventTTL is Config.EventTTL.
	EventTTL time.Duration
}

// Listening is an API server that listens but does not serve yet: what the parts that depend
// on it (controller manager, node agents) need to reach it, and Serve.
type Listening struct {
	// URL is the server's https:// URL as local clients reach it.
	URL string
	// PKI is the server's CA (a node agent in the same process gets its serving certificate
	// from it).
	PKI *PKI
	// Kubeconfig is the admin kubeconfig written into the data dir.
	Kubeconfig string

	ln  *connLimiter
	hs  *http.Server
	log *slog.Logger
	// loopback's informers run while serving, and the policies' type checker.
	loopback  *loopback
	typeCheck *policyTypeChecker
}

// Listen prepares the API over HTTPS with bearer-token authentication: on first start it
// creates a CA, a serving certificate and an admin token in DataDir; on every start it writes
// DataDir/kubeconfig for the admin. It listens at once (so that the URL is known), and serves
// once Serve is called. ctx bounds the server's background work (the garbage collector).
func Listen(ctx context.Context, cfg RunConfig) (*Listening, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("apiserver: data dir is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	token, err := LoadOrCreateToken(filepath.Join(cfg.DataDir, "admin.token"))
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	l, err := listen(ctx, cfg, token, ln)
	if err != nil {
		ln.Close()
		return nil, err
	}
	return l, nil
}

func listen(ctx context.Context, cfg RunConfig, token string, ln net.Listener) (*Listening, error) {
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	// The kubernetes Service's names: pods reach the API server through it (rest.InClusterConfig
	// dials the cluster IP, which the operator adds with ExtraSANs).
	hosts := append([]string{"localhost", "127.0.0.1", "::1", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
		"kubernetes.default.svc.cluster.local"}, cfg.ExtraSANs...)
	if hn, err := os.Hostname(); err == nil {
		hosts = append(hosts, hn)
	}
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		hosts = append(hosts, host)
	}
	pki, err := LoadOrCreatePKI(filepath.Join(cfg.DataDir, "pki"), hosts)
	if err != nil {
		return nil, err
	}
	// The API server's own credential for node agents: the admin token never leaves it.
	kubeletClient, err := pki.kubeletClient(filepath.Join(cfg.DataDir, "pki"))
	if err != nil {
		return nil, err
	}
	// The ServiceAccount token key: several API servers over one store need the same
	// pki/sa.key, as they need the same CA (the store does not carry it).
	saKey, err := satoken.LoadOrCreateKey(filepath.Join(cfg.DataDir, "pki"))
	if err != nil {
		return nil, err
	}
	// The front proxy's CA and client certificate (kube-apiserver's --requestheader-client-ca-file
	// and --proxy-client-cert-file): extension API servers trust the user drover names.
	frontProxy, err := LoadOrCreateFrontProxy(filepath.Join(cfg.DataDir, "pki"))
	if err != nil {
		return nil, err
	}
	nodeTLS := &tls.Config{Certificates: []tls.Certificate{kubeletClient}, RootCAs: pki.CAPool(), MinVersion: tls.VersionTLS12}
	clientHost := host
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		clientHost = "127.0.0.1"
	}
	url := "https://" + net.JoinHostPort(clientHost, port)
	// The Node authorizer first (kube-apiserver's --authorization-mode=Node,RBAC), its graph
	// fed by watches through the server's own loopback client.
	lb, err := newLoopback(pki, url)
	if err != nil {
		return nil, err
	}
	nodes, err := newNodeAuthorizer(lb)
	if err != nil {
		return nil, err
	}
	srv, err := New(Config{Store: cfg.Store, WatchCache: cfg.WatchCache, Tokens: map[string]string{token: "admin"}, NodeTLS: nodeTLS,
		Metrics: cfg.Metrics, AnonymousMetrics: cfg.AnonymousMetrics, Profiling: cfg.Profiling, PodSecurityDefault: cfg.PodSecurityDefault, PodSecurityExemptions: cfg.PodSecurityExemptions, Logger: cfg.Logger, MetricResolution: cfg.MetricResolution,
		Limits: cfg.Limits, ServiceAccountKey: saKey, Now: cfg.Now, RootCA: pki.CACertPEM, ClientCA: pki.CAPool(),
		ClientCAPEM: pki.CACertPEM, FrontProxy: frontProxy,
		ServiceCIDR: cfg.ServiceCIDR, NodePortMin: cfg.NodePortMin, NodePortMax: cfg.NodePortMax,
		AuthorizationMode: cfg.AuthorizationMode, Authorizers: append([]authorizer.Authorizer{nodes.authorizer}, cfg.Authorizers...), EventTTL: cfg.EventTTL})
	if err != nil {
		return nil, err
	}
	if err := srv.Start(ctx); err != nil {
		return nil, err
	}
	// The admission webhooks after Start, whose own writes (the default namespaces) come
	// before the loopback informers run.
	// Published whole once built: Start's loops (the aggregator's) already write.
	hooks, err := newWebhookAdmission(srv, lb.cs, lb.factory)
	if err != nil {
		return nil, err
	}
	// ValidatingAdmissionPolicy and the type checker of the policies, over the same informers.
	mapper := loopbackRESTMapper(lb.cs)
	if hooks.policy, err = newValidatingPolicy(srv, lb, mapper, ctx.Done()); err != nil {
		return nil, err
	}
	srv.webhooks.Store(hooks)
	// The Priority admission of pods reads PriorityClasses from the same informers, as
	// kube-apiserver's plugin does from its lister, instead of the store at every pod create.
	srv.priorityClasses.Store(newPriorityClassCache(lb.factory))
	typeCheck := newPolicyTypeChecker(lb, mapper, cfg.Logger)
	kubeconfig := filepath.Join(cfg.DataDir, "kubeconfig")
	if err := WriteKubeconfig(kubeconfig, url, pki.CACertPEM, token); err != nil {
		return nil, err
	}
	// Client certificates are asked for, not required, and verified by the authenticator (as
	// kube-apiserver does with --client-ca-file): a certificate from another CA is refused
	// 401 unless a bearer token authenticates the request. The served chain carries the CA,
	// so that a joining node pins it by its hash (drover node --ca-cert-hash).
	serving := pki.Cert
	serving.Certificate = append(slices.Clip(serving.Certificate), pki.caCert.Raw)
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{serving}, MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"}, ClientAuth: tls.RequestClientCert}
	maxConns := cfg.MaxConnections
	if maxConns <= 0 {
		maxConns = DefaultMaxConnections()
	}
	limited := newConnLimiter(ln, tlsCfg, maxConns, cfg.Logger)
	// The timeouts of Kubernetes' API server where it has them: a client gets ReadHeaderTimeout
	// for its TLS handshake and each request's headers, bodies bodyTimeout (see bodyDeadline:
	// ReadTimeout itself would end watches), and an idle keep-alive connection is closed after
	// IdleTimeout. Accept errors are logged by the connLimiter; ErrorLog's are handshake noise.
	hs := &http.Server{
		Handler:           srv.Handler(),
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    1 << 20,
		ConnState:         limited.connState,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	return &Listening{URL: url, Kubeconfig: kubeconfig, PKI: pki, ln: limited, hs: hs, log: cfg.Logger, loopback: lb, typeCheck: typeCheck}, nil
}

// Serve answers requests until ctx ends (then it shuts down, giving requests in flight 5 s)
// or serving fails.
func (l *Listening) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- l.hs.Serve(l.ln) }() // the connLimiter serves TLS
	l.loopback.start(ctx)
	go l.typeCheck.run(ctx)
	l.log.Info("API server listening", "url", l.URL, "kubeconfig", l.Kubeconfig)
	select {
	case err := <-errc:
		return fmt.Errorf("API server: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = l.hs.Shutdown(sctx)
	return nil
}

// Close releases the listener of a server that is not going to Serve.
func (l *Listening) Close() error { return l.ln.Close() }

// WriteKubeconfig writes a kubeconfig for url with the CA and a bearer token (mode 0600).
func WriteKubeconfig(path, url string, caPEM []byte, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["drover"] = &clientcmdapi.Cluster{Server: url, CertificateAuthorityData: caPEM}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["drover"] = &clientcmdapi.Context{Cluster: "drover", AuthInfo: "admin", Namespace: "default"}
	cfg.CurrentContext = "drover"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return os.Chmod(path, 0o600)
}
