// Package hatest runs several `drover server` processes over one Consul, as a highly available
// control plane does, for tests and benchmarks: real processes built from cmd/drover, sharing
// one CA and admin token, reachable one by one or through a TCP balancer (the load balancer in
// front of the servers), with kill -9, SIGSTOP and restarts. Hollow node agents (`drover node
// --runtime=hollow`) supply nodes without Docker.
package hatest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/controller/manager"
	"github.com/drover-ci/drover/internal/proctest"
)

// Build compiles cmd/drover (static, as released) into dir and returns the binary's path.
func Build(dir string) (string, error) { return proctest.BuildDrover(dir) }

// Options configures Start.
type Options struct {
	Bin     string   // the drover binary (see Build)
	Servers int      // how many `drover server` processes (default 3)
	Store   string   // --store, e.g. consul://127.0.0.1:8500/prefix
	Args    []string // more `drover server` flags
}

// Cluster is a set of drover servers sharing one store, CA and token.
type Cluster struct {
	Servers []*Server
	// LB forwards TCP connections to the servers that accept them (round robin).
	LB *Balancer
	// Kubeconfig reaches the servers through LB.
	Kubeconfig string
	CA         []byte
	Token      string

	t    testing.TB
	opts Options
}

// Start runs the servers, waits until each answers /readyz and stops them in t.Cleanup
// (their logs are printed when the test failed).
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Servers == 0 {
		opts.Servers = 3
	}
	shared := t.TempDir()
	pki, err := apiserver.LoadOrCreatePKI(filepath.Join(shared, "pki"), []string{"localhost", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	token, err := apiserver.LoadOrCreateToken(filepath.Join(shared, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{CA: pki.CACertPEM, Token: token, t: t, opts: opts}
	// The first server gets the CA and token (so the harness knows them) and uploads them,
	// with the ServiceAccount key, encrypted into the store (--upload-certs); the others join
	// with the certificate key and an empty data dir, as an operator's would.
	key, err := apiserver.NewCertificateKey()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(shared, "certificate-key")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for i := 0; i < opts.Servers; i++ {
		dir := filepath.Join(t.TempDir(), fmt.Sprintf("server-%d", i))
		extra := []string{"--certificate-key-file", keyFile}
		if i == 0 {
			for _, f := range []string{"pki/ca.crt", "pki/ca.key", "admin.token"} {
				if err := copyFile(filepath.Join(shared, f), filepath.Join(dir, f)); err != nil {
					t.Fatal(err)
				}
			}
			extra = append(extra, "--upload-certs")
		} else if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		s := &Server{Index: i, Addr: "127.0.0.1:" + strconv.Itoa(freePort(t)), DataDir: dir,
			LogPath: filepath.Join(dir, "server.log"), c: c, extra: extra}
		c.Servers = append(c.Servers, s)
		addrs = append(addrs, s.Addr)
	}
	t.Cleanup(func() {
		for _, s := range c.Servers {
			s.Stop()
			if t.Failed() {
				t.Logf("drover server %d (%s) log:\n%s", s.Index, s.Addr, tail(s.LogPath, 6000))
			}
		}
	})
	for i, s := range c.Servers {
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := s.WaitReady(60 * time.Second); err != nil {
				t.Fatal(err)
			}
			if err := c.waitUploaded(s, 60*time.Second); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, s := range c.Servers {
		if err := s.WaitReady(60 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	c.LB = NewBalancer(t, addrs)
	c.Kubeconfig = filepath.Join(shared, "kubeconfig")
	if err := apiserver.WriteKubeconfig(c.Kubeconfig, "https://"+c.LB.Addr(), c.CA, token); err != nil {
		t.Fatal(err)
	}
	return c
}

// waitUploaded waits until server s has put the cluster's certificates into the store.
func (c *Cluster) waitUploaded(s *Server, timeout time.Duration) error {
	cs := c.Client(s.Addr)
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := cs.CoreV1().Secrets("kube-system").Get(ctx, apiserver.CertsSecretName, metav1.GetOptions{})
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("drover server %d did not upload its certificates within %v: %v\n%s", s.Index, timeout, err, tail(s.LogPath, 3000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Config returns a client configuration for the server at addr ("": the balancer).
func (c *Cluster) Config(addr string) *rest.Config {
	if addr == "" {
		addr = c.LB.Addr()
	}
	return &rest.Config{Host: "https://" + addr, BearerToken: c.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.CA}, QPS: 500, Burst: 1000, Timeout: 30 * time.Second}
}

// Client returns a client of the server at addr ("": the balancer).
func (c *Cluster) Client(addr string) kubernetes.Interface {
	cs, err := kubernetes.NewForConfig(c.Config(addr))
	if err != nil {
		c.t.Fatal(err)
	}
	return cs
}

// Live returns the servers whose process runs (paused ones included).
func (c *Cluster) Live() []*Server {
	var out []*Server
	for _, s := range c.Servers {
		if s.Running() {
			out = append(out, s)
		}
	}
	return out
}

// Lease reads the controller manager's Lease through a running, unpaused server.
func (c *Cluster) Lease(ctx context.Context) (*coordinationv1.Lease, error) {
	var lastErr error = fmt.Errorf("no server is running")
	for _, s := range c.Live() {
		if s.Paused() {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		l, err := s.Client().CoordinationV1().Leases("kube-system").Get(cctx, manager.LeaseName, metav1.GetOptions{})
		cancel()
		if err == nil {
			return l, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// Leader returns the server whose identity (host name + "_" + pid) holds the Lease, or nil
// (with the holder's identity) when the holder is none of the running servers.
func (c *Cluster) Leader(ctx context.Context) (*Server, string, error) {
	l, err := c.Lease(ctx)
	if err != nil {
		return nil, "", err
	}
	holder := ""
	if l.Spec.HolderIdentity != nil {
		holder = *l.Spec.HolderIdentity
	}
	for _, s := range c.Live() {
		if s.Identity() == holder {
			return s, holder, nil
		}
	}
	return nil, holder, nil
}

// WaitLeader polls the Lease every 50 ms until a running server other than not holds it.
func (c *Cluster) WaitLeader(ctx context.Context, not *Server, timeout time.Duration) (*Server, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		s, holder, err := c.Leader(ctx)
		if err == nil && s != nil && s != not && !s.Paused() {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no new controller leader within %v (holder %q, err %v)", timeout, holder, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// StartHollowNodes runs `drover node --runtime=hollow --count n` through the balancer until
// the test ends. Nodes are named PREFIX-0 ... PREFIX-(n-1).
func (c *Cluster) StartHollowNodes(t testing.TB, prefix string, n int) {
	t.Helper()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "node.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	// The nodes join with a bootstrap token (drover token create, in a file) and the CA file,
	// through the balancer: each gets its own credential, system:node:NAME.
	caFile, tokenFile := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "bootstrap-token")
	if err := os.WriteFile(caFile, c.CA, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(c.opts.Bin, "token", "create", "--kubeconfig", c.Kubeconfig, "--ttl", "1h").Output()
	if err != nil {
		t.Fatalf("drover token create: %v", err)
	}
	if err := os.WriteFile(tokenFile, out, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(c.opts.Bin, "node", "--server", "https://"+c.LB.Addr(), "--token-file", tokenFile, "--certificate-authority", caFile,
		"--runtime=hollow", "--count", strconv.Itoa(n), "--node-name", prefix, "--log-port", "0", "--dns=false",
		"--proxy=false", "--data-dir", dir, "--log-level", "warn")
	done, err := proctest.Start(cmd, logf)
	if err != nil {
		t.Fatalf("start drover node: %v", err)
	}
	t.Cleanup(func() {
		proctest.Signal(cmd, done, syscall.SIGTERM, 10*time.Second)
		if t.Failed() {
			t.Logf("drover node log:\n%s", tail(logPath, 4000))
		}
	})
}

// Server is one `drover server` process; it keeps its address and data dir across restarts.
type Server struct {
	Index   int
	Addr    string // 127.0.0.1:PORT
	DataDir string
	LogPath string

	c      *Cluster
	extra  []string // flags of this server: the first uploads the certificates, the others join
	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	paused bool
}

// Start runs the server process (again, after Kill or Stop); WaitReady waits for it.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		select {
		case <-s.done:
		default:
			return fmt.Errorf("drover server %d is running", s.Index)
		}
	}
	logf, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	args := append([]string{"server", "--data-dir", s.DataDir, "--listen", s.Addr,
		"--store", s.c.opts.Store, "--consul-catalog", "off", "--log-level", "info"}, append(s.extra, s.c.opts.Args...)...)
	cmd := exec.Command(s.c.opts.Bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start drover server %d: %w", s.Index, err)
	}
	fmt.Fprintf(logf, "==== test harness: started pid %d at %s\n", cmd.Process.Pid, time.Now().Format(time.RFC3339Nano))
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	s.cmd, s.done, s.paused = cmd, done, false
	return nil
}

// WaitReady waits until the server answers /readyz with 200.
func (s *Server) WaitReady(timeout time.Duration) error {
	rc := s.c.Config(s.Addr)
	rc.Timeout = 2 * time.Second
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if !s.Running() {
			return fmt.Errorf("drover server %d exited:\n%s", s.Index, tail(s.LogPath, 3000))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("drover server %d not ready within %v: %v\n%s", s.Index, timeout, err, tail(s.LogPath, 3000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Pid returns the server's process id (0 when it never started).
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Identity is the controller manager's Lease identity of the running process: host_pid.
func (s *Server) Identity() string {
	host, _ := os.Hostname()
	return host + "_" + strconv.Itoa(s.Pid())
}

// Running reports whether the process runs (paused or not).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Paused reports whether Pause froze the running process.
func (s *Server) Paused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paused
}

// Kill ends the process with SIGKILL, as a crash would, and waits for it.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.paused = false
	s.mu.Unlock()
	if cmd != nil {
		proctest.Kill(cmd, done)
	}
}

// Stop ends the process with SIGTERM (SIGKILL after 10 s) and waits for it.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.paused = false
	s.mu.Unlock()
	if cmd != nil {
		proctest.Signal(cmd, done, syscall.SIGTERM, 10*time.Second)
	}
}

// Pause freezes the process (SIGSTOP) and returns once the kernel reports it stopped.
func (s *Server) Pause() {
	s.mu.Lock()
	cmd := s.cmd
	s.paused = true
	s.mu.Unlock()
	pid := cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGSTOP)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if i := strings.LastIndexByte(string(b), ')'); err != nil || i >= 0 && strings.HasPrefix(string(b[i+1:]), " T") {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Resume continues a process frozen by Pause.
func (s *Server) Resume() {
	s.mu.Lock()
	cmd := s.cmd
	s.paused = false
	s.mu.Unlock()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGCONT)
}

// Client returns a client of this server alone.
func (s *Server) Client() kubernetes.Interface { return s.c.Client(s.Addr) }

// Mark appends a line to the server's log (between the server's own lines), e.g. to find
// what the server logged after a moment.
func (s *Server) Mark(text string) {
	f, err := os.OpenFile(s.LogPath, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "==== test harness: %s at %s\n", text, time.Now().Format(time.RFC3339Nano))
}

// Log returns the server's output so far (every run of it).
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.LogPath)
	return string(b)
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600)
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(unreadable: %v)", err)
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
