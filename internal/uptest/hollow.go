package uptest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/internal/proctest"
)

// Hollow is a `drover node --runtime=hollow` process joined to a drover up: n simulated nodes
// named PREFIX-0 … PREFIX-(n-1).
type Hollow struct {
	Nodes []string
	Log   string

	t    testing.TB
	cmd  *exec.Cmd
	done <-chan struct{}
}

// StartHollowNodes runs n hollow nodes against e's API server until Stop or the end of the
// test, and waits until each has registered Ready.
func (e *Env) StartHollowNodes(t testing.TB, prefix string, n int) *Hollow {
	t.Helper()
	dir := t.TempDir()
	h := &Hollow{Log: filepath.Join(dir, "node.log"), t: t}
	logf, err := os.Create(h.Log)
	if err != nil {
		t.Fatal(err)
	}
	h.cmd = exec.Command(e.Drover, "node", "--kubeconfig", e.Kubeconfig, "--runtime=hollow",
		"--count", strconv.Itoa(n), "--node-name", prefix, "--log-port", "0", "--dns=false",
		"--proxy=false", "--data-dir", dir, "--log-level", "warn")
	if h.done, err = proctest.Start(h.cmd, logf); err != nil {
		t.Fatalf("start drover node: %v", err)
	}
	t.Cleanup(func() {
		h.Stop()
		if t.Failed() {
			t.Logf("hollow nodes %s log:\n%s", prefix, proctest.TailLines(h.Log, 40))
		}
	})
	for i := range n {
		h.Nodes = append(h.Nodes, fmt.Sprintf("%s-%d", prefix, i))
	}
	for _, name := range h.Nodes {
		Eventually(t, 60*time.Second, "hollow node "+name+" Ready", func() bool {
			node, err := e.Client.CoreV1().Nodes().Get(t.Context(), name, metav1.GetOptions{})
			if err != nil {
				return false
			}
			for _, c := range node.Status.Conditions {
				if c.Type == corev1.NodeReady {
					return c.Status == corev1.ConditionTrue
				}
			}
			return false
		})
	}
	return h
}

// Stop ends the hollow nodes' process (SIGTERM, SIGKILL after 10 s). Their Node objects stay,
// as a real node's do when its kubelet stops.
func (h *Hollow) Stop() {
	proctest.Signal(h.cmd, h.done, syscall.SIGTERM, 10*time.Second)
}
