package apiserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/drover-ci/drover/cluster/store"
)

// RunConfig configures Run: a complete HTTPS API server with its data directory.
type RunConfig struct {
	Store   store.Store
	DataDir string // pki/, admin.token and kubeconfig live here
	Listen  string // host:port; port 0 picks a free one
	// ExtraSANs are added to the serving certificate (localhost, 127.0.0.1, ::1, the host
	// name and the listen host are always there).
	ExtraSANs []string
	// Logs serves pods/log for a node agent in the same process (drover up).
	Logs http.Handler
	// Metrics is served at /metrics without authentication (nil: prometheus.DefaultGatherer).
	Metrics prometheus.Gatherer
	// Ready is called once the server listens, with its URL and the kubeconfig path.
	Ready func(url, kubeconfig string)
}

// Run serves the API over HTTPS with bearer-token authentication until ctx ends. On first
// start it creates a CA, a serving certificate and an admin token in DataDir; on every start it
// writes DataDir/kubeconfig for the admin.
func Run(ctx context.Context, cfg RunConfig) error {
	if cfg.DataDir == "" {
		return errors.New("apiserver: data dir is required")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	token, err := LoadOrCreateToken(filepath.Join(cfg.DataDir, "admin.token"))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	defer ln.Close()
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	hosts := append([]string{"localhost", "127.0.0.1", "::1"}, cfg.ExtraSANs...)
	if hn, err := os.Hostname(); err == nil {
		hosts = append(hosts, hn)
	}
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		hosts = append(hosts, host)
	}
	pki, err := LoadOrCreatePKI(filepath.Join(cfg.DataDir, "pki"), hosts)
	if err != nil {
		return err
	}
	srv, err := New(Config{Store: cfg.Store, Tokens: map[string]string{token: "admin"}, NodeToken: token, Logs: cfg.Logs, Metrics: cfg.Metrics})
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	clientHost := host
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		clientHost = "127.0.0.1"
	}
	url := "https://" + net.JoinHostPort(clientHost, port)
	kubeconfig := filepath.Join(cfg.DataDir, "kubeconfig")
	if err := WriteKubeconfig(kubeconfig, url, pki.CACertPEM, token); err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{pki.Cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(slog.Default().Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.ServeTLS(ln, "", "") }()
	slog.Info("API server listening", "url", url, "kubeconfig", kubeconfig)
	if cfg.Ready != nil {
		cfg.Ready(url, kubeconfig)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	return nil
}

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
