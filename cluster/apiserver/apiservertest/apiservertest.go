// Package apiservertest starts a real drover API server (HTTPS, bearer token, in-memory or given
// store) on a loopback port for tests, and hands out its client configuration.
package apiservertest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/cluster/controller/serviceaccount"
	"github.com/drover-ci/drover/cluster/store"
	"github.com/drover-ci/drover/cluster/store/memstore"
)

// Server is a running test API server.
type Server struct {
	URL        string
	Kubeconfig string
	DataDir    string
	Config     *rest.Config
	// PKI is the server's CA: node agents in tests get their serving certificate and the
	// API server's client CA from it.
	PKI  *apiserver.PKI
	stop context.CancelFunc
	done chan error
}

// Start runs an API server over a fresh in-memory store until the test ends.
func Start(t testing.TB) *Server {
	return StartWith(t, memstore.New(), t.TempDir())
}

// StartWith runs an API server over st with its data (CA, token, kubeconfig) in dataDir.
// The server stops (and the store is left open) when the test ends, or when Stop is called.
func StartWith(t testing.TB, st store.Store, dataDir string) *Server {
	t.Helper()
	return StartConfig(t, apiserver.RunConfig{Store: st, DataDir: dataDir})
}

// StartConfig runs an API server with cfg until the test ends: Store defaults to a fresh
// in-memory store, DataDir to a temporary directory, Listen to a free loopback port.
func StartConfig(t testing.TB, cfg apiserver.RunConfig) *Server {
	t.Helper()
	if cfg.Store == nil {
		cfg.Store = memstore.New()
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	dataDir := cfg.DataDir
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{DataDir: dataDir, stop: cancel, done: make(chan error, 1)}
	api, err := apiserver.Listen(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("API server did not start: %v", err)
	}
	s.URL, s.Kubeconfig, s.PKI = api.URL, api.Kubeconfig, api.PKI
	go func() { s.done <- api.Serve(ctx) }()
	t.Cleanup(s.Stop)
	rc, err := clientcmd.BuildConfigFromFlags("", filepath.Clean(s.Kubeconfig))
	if err != nil {
		t.Fatalf("load kubeconfig: %v", err)
	}
	rc.QPS, rc.Burst = 1000, 1000
	s.Config = rc
	s.runServiceAccounts(ctx, t)
	return s
}

// runServiceAccounts runs the serviceaccount controller beside the server, as a cluster has
// it: every namespace gets its default ServiceAccount (which pod admission requires) and
// kube-root-ca.crt.
func (s *Server) runServiceAccounts(ctx context.Context, t testing.TB) {
	t.Helper()
	cs, err := kubernetes.NewForConfig(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(cs, 0)
	c, err := serviceaccount.New(controller.Context{Client: cs, Informers: factory,
		Options: controller.Options{RootCA: s.PKI.CACertPEM, Workers: 1}})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	go func() { _ = c.Run(ctx) }()
}

// Stop shuts the server down and waits for it.
func (s *Server) Stop() {
	if s.stop == nil {
		return
	}
	s.stop()
	s.stop = nil
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
	}
}
