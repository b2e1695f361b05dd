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
	"k8s.io/client-go/tools/clientcmd"

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
	// The nodes join as an operator's would: a bootstrap token from `drover token create` (in a
	// file, off the command line) and the CA file; each gets its own credential,
	// system:node:NAME, through a client CSR.
	server, caFile, tokenFile := e.joinFiles(t, dir)
	h.cmd = exec.Command(e.Drover, "node", "--server", server, "--token-file", tokenFile, "--certificate-authority", caFile,
		"--runtime=hollow", "--count", strconv.Itoa(n), "--node-name", prefix, "--log-port", "0", "--dns=false",
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

// joinFiles makes a bootstrap token with drover token create and writes it and the cluster's
// CA into dir; it returns the API server's URL and the two files.
func (e *Env) joinFiles(t testing.TB, dir string) (server, caFile, tokenFile string) {
	t.Helper()
	kc, err := clientcmd.LoadFromFile(e.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cluster := kc.Clusters[kc.Contexts[kc.CurrentContext].Cluster]
	caFile, tokenFile = filepath.Join(dir, "ca.crt"), filepath.Join(dir, "bootstrap-token")
	if err := os.WriteFile(caFile, cluster.CertificateAuthorityData, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(e.Drover, "token", "create", "--kubeconfig", e.Kubeconfig, "--ttl", "1h", "--description", "uptest hollow nodes").Output()
	if err != nil {
		t.Fatalf("drover token create: %v", err)
	}
	if err := os.WriteFile(tokenFile, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return cluster.Server, caFile, tokenFile
}

// Stop ends the hollow nodes' process (SIGTERM, SIGKILL after 10 s). Their Node objects stay,
// as a real node's do when its kubelet stops.
func (h *Hollow) Stop() {
	proctest.Signal(h.cmd, h.done, syscall.SIGTERM, 10*time.Second)
}
