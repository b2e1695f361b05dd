// Package uptest runs `drover up` on the real Docker engine for integration tests: it builds
// the drover binary, starts it on its own network, service range, DNS address and NodePort
// range (so it meets no other drover on this host), waits for its node to be Ready, and on
// cleanup stops it and removes its containers and network. Kill and Restart let a test crash
// drover and bring it back on the same data directory.
package uptest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-ci/drover/internal/proctest"
)

// Options say how to run `drover up`. Name, Subnet, ServiceCIDR, ClusterDNS and NodePortRange
// must not collide with another test package's: packages run in parallel.
type Options struct {
	// Name prefixes the node name and names the Docker network ("drover-" + Name).
	Name string
	// Node is the node name (default Name-PID).
	Node          string
	Subnet        string
	ServiceCIDR   string
	ClusterDNS    string
	NodePortRange string
	// Args are extra flags of drover up.
	Args []string
	// Images must exist on the engine (built by scripts/images.sh).
	Images []string
	// NeedKubectl fails (or skips) the test when kubectl is missing.
	NeedKubectl bool
	// Env is added to drover up's environment.
	Env []string
}

// Env is a running `drover up`.
type Env struct {
	Drover     string // the drover binary
	Kubeconfig string
	DataDir    string
	Node       string
	Network    string
	// AgentPort is the node agent's HTTPS port (--log-port): logs, exec, attach, port-forward.
	AgentPort int
	Log       string // drover up's log file (stdout and stderr)
	Client    kubernetes.Interface

	t    testing.TB
	args []string
	env  []string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done <-chan struct{}
}

// RequireE2E fails the test when DROVER_E2E=1 (CI), else skips it, naming the missing
// prerequisite.
func RequireE2E(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("DROVER_E2E") == "1" {
		t.Fatalf("%s (DROVER_E2E=1 requires it)", why)
	}
	t.Skip(why)
}

// OwnNetwork gives the test the Docker network name: a network of this name left by an earlier
// run (one that crashed, or a test that does not remove what its drover made) belongs to that
// run's cluster (another CA, another id), which drover refuses to share, so it is removed now
// (Docker refuses while containers use it), and again when the test ends.
func OwnNetwork(t testing.TB, name string) {
	t.Helper()
	_ = exec.Command("docker", "network", "rm", name).Run()
	t.Cleanup(func() { _ = exec.Command("docker", "network", "rm", name).Run() })
}

// CheckDocker checks that a Docker engine answers, that we are root (cluster IPs on lo, DNS
// on port 53) and that the images exist.
func CheckDocker(t testing.TB, images ...string) {
	t.Helper()
	if os.Getenv("DOCKER_HOST") == "" || exec.Command("docker", "version").Run() != nil {
		RequireE2E(t, "no Docker engine answers at DOCKER_HOST (scripts/docker-up.sh starts one)")
	}
	if os.Geteuid() != 0 {
		RequireE2E(t, "drover up needs root (cluster IPs on lo, DNS on port 53)")
	}
	for _, img := range images {
		if exec.Command("docker", "image", "inspect", img).Run() != nil {
			RequireE2E(t, "image "+img+" missing (scripts/images.sh builds it)")
		}
	}
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// BuildDrover builds the static drover binary once per test binary and returns its path.
func BuildDrover(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "drover-uptest-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath, buildErr = proctest.BuildDrover(dir)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// Start runs `drover up` and waits for its node to be Ready.
func Start(t testing.TB, o Options) *Env {
	t.Helper()
	if o.NeedKubectl {
		if _, err := exec.LookPath("kubectl"); err != nil {
			RequireE2E(t, "kubectl not found")
		}
	}
	CheckDocker(t, o.Images...)
	dir := t.TempDir()
	e := &Env{
		Drover:  BuildDrover(t),
		DataDir: filepath.Join(dir, "data"),
		Node:    o.Node,
		Network: "drover-" + o.Name,
		Log:     filepath.Join(dir, "drover.log"),
		t:       t,
		env:     o.Env,
	}
	if e.Node == "" {
		e.Node = fmt.Sprintf("%s-%d", o.Name, os.Getpid())
	}
	e.Kubeconfig = filepath.Join(e.DataDir, "kubeconfig")
	e.AgentPort = freePort(t)
	e.args = append([]string{"up", "--data-dir", e.DataDir, "--listen", "127.0.0.1:0", "--node-name", e.Node,
		"--network", e.Network, "--subnet", o.Subnet, "--service-cidr", o.ServiceCIDR,
		"--cluster-dns", o.ClusterDNS, "--node-port-range", o.NodePortRange, "--log-port", fmt.Sprint(e.AgentPort)}, o.Args...)
	OwnNetwork(t, e.Network)
	t.Cleanup(e.cleanup)
	e.start()
	return e
}

func (e *Env) start() {
	e.t.Helper()
	logf, err := os.OpenFile(e.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		e.t.Fatal(err)
	}
	cmd := exec.Command(e.Drover, e.args...)
	cmd.Env = append(os.Environ(), e.env...)
	done, err := proctest.Start(cmd, logf)
	if err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	e.cmd, e.done = cmd, done
	e.mu.Unlock()
	e.Client = e.waitReady()
}

// waitReady waits for the kubeconfig and the node to be Ready.
func (e *Env) waitReady() kubernetes.Interface {
	e.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for ; time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		select {
		case <-e.done:
			e.t.Fatalf("drover up exited:\n%s", e.tail(40))
		default:
		}
		cfg, err := clientcmd.BuildConfigFromFlags("", e.Kubeconfig)
		if err != nil {
			continue
		}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			e.t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		n, err := cs.CoreV1().Nodes().Get(ctx, e.Node, metav1.GetOptions{})
		cancel()
		if err != nil {
			continue
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return cs
			}
		}
	}
	e.t.Fatalf("drover up did not write %s and register node %s as Ready within 90s:\n%s", e.Kubeconfig, e.Node, e.tail(40))
	return nil
}

// Kill ends drover up with SIGKILL (a crash: its containers keep running in Docker).
func (e *Env) Kill() {
	e.mu.Lock()
	cmd, done := e.cmd, e.done
	e.mu.Unlock()
	if cmd != nil {
		proctest.Kill(cmd, done)
	}
}

// Restart starts drover up again on the same data directory and waits for its node.
func (e *Env) Restart() {
	e.t.Helper()
	e.start()
}

// Stop ends drover up with SIGTERM (SIGKILL after 20 s).
func (e *Env) Stop() {
	e.mu.Lock()
	cmd, done := e.cmd, e.done
	e.mu.Unlock()
	if cmd == nil {
		return
	}
	// SIGTERM goes to drover up alone, not to its process group.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	proctest.WaitOrKill(cmd, done, 20*time.Second)
}

func (e *Env) cleanup() {
	e.Stop()
	ids, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=drover.io/node="+e.Node).Output()
	if f := strings.Fields(string(ids)); len(f) > 0 {
		_ = exec.Command("docker", append([]string{"rm", "-f"}, f...)...).Run()
	}
	proctest.UnmountUnder(e.DataDir)
	if e.t.Failed() {
		e.t.Logf("drover up log:\n%s", e.tail(80))
	}
}

func (e *Env) tail(n int) string { return proctest.TailLines(e.Log, n) }

// Eventually polls cond until it holds, failing the test after d with "timed out after d
// waiting for what". It polls at once, then after 1 ms, backing off (doubling) to every
// 250 ms, so a unit test's quick condition is seen quickly and an end-to-end test's slow one
// (an HTTP request, a kubectl run) is not hammered.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for wait := time.Millisecond; !cond(); wait = min(2*wait, 250*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(wait)
	}
}

// freePort is a TCP port nothing listens on at the moment.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
