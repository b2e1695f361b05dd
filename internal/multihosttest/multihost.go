// Package multihosttest runs a drover cluster of several simulated Docker hosts on one machine,
// for integration tests: scripts/multihost.sh makes each host a network namespace on a
// shared bridge with its own dockerd (and the test images), StartServer runs `drover
// server` in the root namespace on the bridge address, and each Host runs `drover node
// --host-gw` inside its namespace. Everything is removed when the test ends (and `up`
// removes leftovers of a crashed run first).
//
// Tests using it need root, iproute2, nsenter, dockerd and the main private engine
// (scripts/docker-up.sh, DOCKER_HOST) with the images (scripts/images.sh): without them they
// skip, or fail under DROVER_E2E=1.
package multihosttest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
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
	"github.com/drover-ci/drover/internal/uptest"
)

// Options say how to build the hosts.
type Options struct {
	// Prefix names the namespaces (PREFIX1…), the bridge (PREFIXbr) and the state directory
	// (default "dmh"). Two clusters at once need two prefixes and two Nets.
	Prefix string
	// Net is the bridge's /24 without its last octet (default "172.30.0"): the bridge is .1,
	// host I is .(10+I).
	Net string
	// Images are copied from the main engine into every host's (default drover/pause:1 and
	// drover/testserver:1).
	Images []string
}

// Cluster is a set of simulated hosts.
type Cluster struct {
	Hosts []*Host
	// BridgeIP is the root namespace's address on the bridge, where StartServer listens.
	BridgeIP string
	// SharedDir is a directory every host sees (the common filesystem): shared storage for
	// hostPath volumes standing in for NFS.
	SharedDir string
	// Drover is the drover binary the servers and nodes run.
	Drover string

	t      testing.TB
	script string
	env    []string
}

// Host is one simulated host.
type Host struct {
	Name       string // also the network namespace and the Node's name
	IP         string
	DockerHost string
	NodeLog    string // the node agent's log file

	c    *Cluster
	mu   sync.Mutex
	node *exec.Cmd
	done <-chan struct{}
}

// Start creates n hosts and registers their removal with t.Cleanup.
func Start(t testing.TB, n int, o Options) *Cluster {
	t.Helper()
	if o.Prefix == "" {
		o.Prefix = "dmh"
	}
	if o.Net == "" {
		o.Net = "172.30.0"
	}
	if len(o.Images) == 0 {
		o.Images = []string{"drover/pause:1", "drover/testserver:1"}
	}
	if os.Geteuid() != 0 {
		uptest.RequireE2E(t, "multihost needs root (network namespaces, bridges, dockerd)")
	}
	for _, tool := range []string{"ip", "nsenter", "dockerd", "docker"} {
		if _, err := exec.LookPath(tool); err != nil {
			uptest.RequireE2E(t, tool+" not found")
		}
	}
	uptest.CheckDocker(t, o.Images...)
	_, file, _, _ := runtime.Caller(0)
	c := &Cluster{
		BridgeIP:  o.Net + ".1",
		SharedDir: t.TempDir(),
		Drover:    uptest.BuildDrover(t),
		t:         t,
		script:    filepath.Join(filepath.Dir(file), "..", "..", "scripts", "multihost.sh"),
		env: append(os.Environ(), "MH_PREFIX="+o.Prefix, "MH_NET="+o.Net,
			"MH_IMAGES="+strings.Join(o.Images, " ")),
	}
	t.Cleanup(c.down)
	cmd := exec.Command("bash", c.script, "up", strconv.Itoa(n))
	cmd.Env = c.env
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("multihost.sh up %d: %v\n%s%s", n, err, out, stderr)
	}
	logDir := t.TempDir()
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			continue
		}
		c.Hosts = append(c.Hosts, &Host{Name: f[0], IP: f[1], DockerHost: f[2], c: c,
			NodeLog: filepath.Join(logDir, f[0]+".log")})
	}
	if len(c.Hosts) != n {
		t.Fatalf("multihost.sh up %d listed %d hosts:\n%s", n, len(c.Hosts), out)
	}
	return c
}

func (c *Cluster) down() {
	for _, h := range c.Hosts {
		h.StopNode()
		if c.t.Failed() {
			c.t.Logf("node agent %s log (tail):\n%s", h.Name, proctest.TailLines(h.NodeLog, 60))
		}
	}
	cmd := exec.Command("bash", c.script, "down")
	cmd.Env = c.env
	if out, err := cmd.CombinedOutput(); err != nil {
		c.t.Errorf("multihost.sh down: %v\n%s", err, out)
	}
	// The killed node agents leave their pods' secret and token volumes (tmpfs) mounted in
	// their data dirs, which the test's temporary directory removal cannot unlink.
	for _, h := range c.Hosts {
		proctest.UnmountUnder(filepath.Join(filepath.Dir(h.NodeLog), h.Name+"-data"))
	}
}

// Command is name with args run inside the host's network namespace, with DOCKER_HOST set
// to the host's engine.
func (h *Host) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command("nsenter", append([]string{"--net=/run/netns/" + h.Name, name}, args...)...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+h.DockerHost)
	return cmd
}

// Docker runs the docker CLI against the host's engine.
func (h *Host) Docker(args ...string) (string, error) {
	out, err := exec.Command("docker", append([]string{"-H", h.DockerHost}, args...)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// StartNode runs `drover node --host-gw` for this host against the server's kubeconfig (extra
// flags after the defaults), in the host's namespace.
func (h *Host) StartNode(kubeconfig string, args ...string) {
	h.c.t.Helper()
	logf, err := os.OpenFile(h.NodeLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		h.c.t.Fatal(err)
	}
	dataDir := filepath.Join(filepath.Dir(h.NodeLog), h.Name+"-data")
	cmd := h.Command(h.c.Drover, append([]string{"node", "--kubeconfig", kubeconfig, "--node-name", h.Name,
		"--node-ip", h.IP, "--host-gw", "--data-dir", dataDir, "--network", "drover"}, args...)...)
	done, err := proctest.Start(cmd, logf)
	if err != nil {
		h.c.t.Fatalf("start node agent on %s: %v", h.Name, err)
	}
	h.mu.Lock()
	h.node, h.done = cmd, done
	h.mu.Unlock()
}

// StopNode kills the host's node agent (SIGKILL: a crash, its containers keep running).
func (h *Host) StopNode() {
	h.mu.Lock()
	cmd, done := h.node, h.done
	h.node = nil
	h.mu.Unlock()
	if cmd != nil {
		proctest.Kill(cmd, done)
	}
}

// Disconnect takes the host off the bridge (its veth goes down): nothing it sends arrives,
// as when a machine loses power, so its containers' last FINs never reach the others.
func (h *Host) Disconnect() {
	h.c.t.Helper()
	if out, err := exec.Command("ip", "link", "set", h.Name+"v", "down").CombinedOutput(); err != nil {
		h.c.t.Fatalf("disconnect %s: %v\n%s", h.Name, err, out)
	}
}

// StopDocker stops the host's dockerd (SIGTERM, which stops its containers; SIGKILL after 20 s).
func (h *Host) StopDocker() {
	h.c.t.Helper()
	pidFile := filepath.Join(filepath.Dir(strings.TrimPrefix(h.DockerHost, "unix://")), "docker.pid")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		h.c.t.Fatalf("dockerd of %s: %v", h.Name, err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 {
		h.c.t.Fatalf("dockerd of %s: bad pid file %q", h.Name, b)
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(20 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Server is a `drover server` in the root namespace, listening on the bridge.
type Server struct {
	Kubeconfig string
	Client     kubernetes.Interface
	Log        string
	cmd        *exec.Cmd
	done       <-chan struct{}
}

// StartServer runs `drover server` on the bridge address with the embedded store and the
// controllers (extra flags after the defaults), and waits for its kubeconfig and API.
func (c *Cluster) StartServer(args ...string) *Server {
	c.t.Helper()
	dir := c.t.TempDir()
	s := &Server{Kubeconfig: filepath.Join(dir, "data", "kubeconfig"), Log: filepath.Join(dir, "server.log")}
	logf, err := os.Create(s.Log)
	if err != nil {
		c.t.Fatal(err)
	}
	s.cmd = exec.Command(c.Drover, append([]string{"server", "--data-dir", filepath.Join(dir, "data"),
		"--listen", c.BridgeIP + ":0", "--consul-catalog", "off"}, args...)...)
	if s.done, err = proctest.Start(s.cmd, logf); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() {
		// SIGTERM goes to drover server alone, not to its process group.
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		proctest.WaitOrKill(s.cmd, s.done, 15*time.Second)
		if c.t.Failed() {
			c.t.Logf("drover server log (tail):\n%s", proctest.TailLines(s.Log, 60))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for ; time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		select {
		case <-s.done:
			c.t.Fatalf("drover server exited:\n%s", proctest.TailLines(s.Log, 40))
		default:
		}
		cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
		if err != nil {
			continue
		}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			c.t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err = cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
		cancel()
		if err == nil {
			s.Client = cs
			return s
		}
	}
	c.t.Fatalf("drover server did not answer within 60s:\n%s", proctest.TailLines(s.Log, 40))
	return nil
}

// WaitNodesReady waits until every host's Node is Ready with a podCIDR.
func (c *Cluster) WaitNodesReady(client kubernetes.Interface, d time.Duration) {
	c.t.Helper()
	uptest.Eventually(c.t, d, fmt.Sprintf("%d nodes Ready with a podCIDR", len(c.Hosts)), func() bool {
		for _, h := range c.Hosts {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			n, err := client.CoreV1().Nodes().Get(ctx, h.Name, metav1.GetOptions{})
			cancel()
			if err != nil || n.Spec.PodCIDR == "" || !ready(n) {
				return false
			}
		}
		return true
	})
}

func ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
