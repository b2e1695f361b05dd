// Package consultest starts a real Consul agent (`consul agent -dev`) on free loopback ports
// for tests. The binary is $DROVER_CONSUL, else $HOME/.cache/drover/bin/consul-1.19.2 as built
// by scripts/consul-build.sh. Without it, tests skip — or fail when DROVER_E2E=1.
package consultest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/drover-ci/drover/internal/proctest"
	"github.com/drover-ci/drover/internal/uptest"
)

// Version is the Consul release the harness expects.
const Version = "1.19.2"

// LeaderTimeout bounds how long Start waits for the dev agent to elect itself leader.
const LeaderTimeout = 60 * time.Second

// Agent is one running dev agent.
type Agent struct {
	Addr    string // HTTP API address, "127.0.0.1:PORT"
	DNSAddr string // DNS interface (UDP and TCP), "127.0.0.1:PORT"
	DataDir string
	LogPath string // the agent's stdout and stderr
	// ServerAddr is the server RPC address, "127.0.0.1:PORT", as /v1/status/leader names it.
	ServerAddr string

	bin     string
	args    []string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	waitErr error
	once    *sync.Once
	ended   atomic.Bool // Stop or Kill was called for the current process
}

// Config returns a consul/api client configuration for the agent (plain HTTP, no token).
func (a *Agent) Config() *api.Config {
	cfg := api.DefaultConfig()
	cfg.Address = a.Addr
	cfg.Scheme = "http"
	cfg.Token = ""
	cfg.TokenFile = ""
	return cfg
}

// Client returns a consul/api client for the agent.
func (a *Agent) Client(t testing.TB) *api.Client {
	t.Helper()
	c, err := api.NewClient(a.Config())
	if err != nil {
		t.Fatalf("consul client: %v", err)
	}
	return c
}

// Binary returns the path of the Consul binary the harness would run.
func Binary() string {
	if p := os.Getenv("DROVER_CONSUL"); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "drover", "bin", "consul-"+Version)
}

// Start runs a dev agent for the test and stops it in t.Cleanup. Its log is printed if the test
// fails.
func Start(t testing.TB) *Agent {
	t.Helper()
	bin := requireBinary(t)
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		a, err := launch(t, bin)
		if err == nil {
			return a
		}
		lastErr = err
		if !errors.Is(err, errExited) {
			break // a port clash makes the agent exit; anything else will not get better
		}
	}
	t.Fatalf("consultest: %v", lastErr)
	return nil
}

var errExited = errors.New("consul agent exited")

// requireBinary returns Binary(), skipping the test when it is missing (failing it when
// DROVER_E2E=1).
func requireBinary(t testing.TB) string {
	t.Helper()
	bin := Binary()
	if _, err := os.Stat(bin); err != nil {
		msg := fmt.Sprintf("consul binary %s not found (%v): run scripts/consul-build.sh or set DROVER_CONSUL", bin, err)
		uptest.RequireE2E(t, msg)
	}
	return bin
}

// launch starts one agent and waits for its leader; on failure the agent is stopped.
func launch(t testing.TB, bin string) (*Agent, error) {
	dir := t.TempDir()
	p, err := freePorts(6)
	if err != nil {
		return nil, err
	}
	a := &Agent{
		Addr:       "127.0.0.1:" + strconv.Itoa(p[0]),
		DNSAddr:    "127.0.0.1:" + strconv.Itoa(p[1]),
		ServerAddr: "127.0.0.1:" + strconv.Itoa(p[4]),
		DataDir:    filepath.Join(dir, "data"),
		LogPath:    filepath.Join(dir, "consul.log"),
		bin:        bin,
	}
	a.args = []string{"agent", "-dev", "-bind", "127.0.0.1", "-client", "127.0.0.1",
		"-node", "consultest-" + strconv.Itoa(p[0]), "-data-dir", a.DataDir, "-log-level", "info",
		"-http-port", strconv.Itoa(p[0]), "-dns-port", strconv.Itoa(p[1]),
		"-serf-lan-port", strconv.Itoa(p[2]), "-serf-wan-port", strconv.Itoa(p[3]),
		"-server-port", strconv.Itoa(p[4]), "-grpc-port", strconv.Itoa(p[5]),
		"-grpc-tls-port", "-1", "-https-port", "-1"}
	if err := a.spawn(); err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		a.Stop()
		if t.Failed() {
			a.dumpLog(t)
		}
	})
	if err := a.waitLeader(LeaderTimeout); err != nil {
		a.Stop()
		return nil, fmt.Errorf("%w\n%s", err, a.tail(4000))
	}
	return a, nil
}

// spawn starts the agent process with a.bin and a.args, appending to a.LogPath.
func (a *Agent) spawn() error {
	logf, err := os.OpenFile(a.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(a.bin, a.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", a.bin, err)
	}
	done := make(chan struct{})
	a.cmd, a.done, a.once = cmd, done, new(sync.Once)
	a.ended.Store(false)
	go func() {
		a.waitErr = cmd.Wait()
		logf.Close()
		close(done)
	}()
	return nil
}

// waitLeader polls /v1/status/leader until it names a leader, the process exits or time runs out.
func (a *Agent) waitLeader(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	url := "http://" + a.Addr + "/v1/status/leader"
	for {
		if leader, err := getLeader(ctx, hc, url); err == nil && leader != "" {
			return nil
		}
		select {
		case <-a.done:
			return fmt.Errorf("%w before electing a leader (%v); log %s", errExited, a.waitErr, a.LogPath)
		case <-ctx.Done():
			return fmt.Errorf("consul agent at %s elected no leader within %v (GET /v1/status/leader); log %s",
				a.Addr, timeout, a.LogPath)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func getLeader(ctx context.Context, hc *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d: %v", resp.StatusCode, err)
	}
	return strings.Trim(strings.TrimSpace(string(body)), `"`), nil
}

// Stop ends the agent (SIGTERM, then SIGKILL after 5 s) and waits for it. Idempotent.
func (a *Agent) Stop() { a.end(syscall.SIGTERM, 5*time.Second) }

// Kill ends the agent with SIGKILL at once, as a crash would. Idempotent.
func (a *Agent) Kill() { a.end(syscall.SIGKILL, 0) }

func (a *Agent) end(sig syscall.Signal, grace time.Duration) {
	cmd, done, once := a.cmd, a.done, a.once
	a.ended.Store(true)
	once.Do(func() { proctest.Signal(cmd, done, sig, grace) })
	<-done
}

// killed reports whether the current process was ended by Stop or Kill.
func (a *Agent) killed() bool { return a.ended.Load() }

// Restart starts an agent that was stopped or killed again, with the same ports, data dir and
// flags (a cluster server rejoins its peers; a dev agent starts empty). It does not wait for a
// leader: see Cluster.WaitLeader.
func (a *Agent) Restart() error {
	if !a.Exited() {
		return fmt.Errorf("consultest: agent %s is still running", a.Addr)
	}
	return a.spawn()
}

// Pause freezes the agent (SIGSTOP): connections are accepted by the kernel but never
// answered, as with a hung server. Resume undoes it; Stop resumes first.
// Pause returns once the kernel reports the process stopped.
func (a *Agent) Pause() {
	pid := a.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGSTOP)
	stat := fmt.Sprintf("/proc/%d/stat", pid)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		b, err := os.ReadFile(stat)
		// The state follows the parenthesized command name: "PID (consul) T ...".
		if i := bytes.LastIndexByte(b, ')'); err != nil || i >= 0 && bytes.HasPrefix(b[i+1:], []byte(" T")) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Resume continues an agent frozen by Pause.
func (a *Agent) Resume() { _ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGCONT) }

// Exited reports whether the agent process has ended.
func (a *Agent) Exited() bool {
	select {
	case <-a.done:
		return true
	default:
		return false
	}
}

func (a *Agent) dumpLog(t testing.TB) {
	t.Logf("consul agent log (%s):\n%s", a.LogPath, a.tail(3000))
}

// tail returns the last n bytes of the agent's log.
func (a *Agent) tail(n int) string {
	b, err := os.ReadFile(a.LogPath)
	if err != nil {
		return fmt.Sprintf("(log unreadable: %v)", err)
	}
	if len(b) > n {
		b = b[len(b)-n:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}
