package nodeagent_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cluster/nodeagent"

	"github.com/drover-ci/drover/internal/proctest"
)

// nodeProcess is `drover node` run as a subprocess, so the test can kill -9 it.
type nodeProcess struct {
	t    *testing.T
	args []string
	log  string
	cmd  *exec.Cmd
	runs int
}

func (n *nodeProcess) start() {
	n.t.Helper()
	n.runs++
	f, err := os.OpenFile(n.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		n.t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "---- run %d ----\n", n.runs)
	n.cmd = exec.Command(n.args[0], n.args[1:]...)
	n.cmd.Stdout, n.cmd.Stderr = f, f
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
}

func (n *nodeProcess) kill() {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	_ = n.cmd.Wait()
	n.cmd = nil
}

// buildDrover builds the drover binary (static, as released) into dir.
func buildDrover(t *testing.T, dir string) string {
	t.Helper()
	bin, err := proctest.BuildDrover(dir)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// After kill -9 of `drover node` and a restart, the running containers are adopted (one set,
// restart counts kept), the containers of a pod deleted meanwhile are removed, and a removed
// infra container is recreated.
func TestE2EAgentKilledAndRestarted(t *testing.T) {
	t.Parallel()
	rt := e2eRuntime(t)
	ctx := context.Background()
	network, pause := "drover-e2e-kill", "drover/pause:e2e-kill"
	t.Cleanup(func() { // runs after the containers are removed
		_, _ = rt.Client().ImageRemove(ctx, pause, image.RemoveOptions{Force: true})
		_ = rt.Client().NetworkRemove(ctx, network)
	})
	// A pause image left by an earlier run would hide whether drover builds its own.
	_, _ = rt.Client().ImageRemove(ctx, pause, image.RemoveOptions{Force: true})
	dir := t.TempDir()
	bin := buildDrover(t, dir)
	e := startE2E(t, e2eOptions{noAgent: true})
	// This API server runs no controllers, so no CSR signer: the node serves a certificate
	// issued here from the server's CA.
	certFile, keyFile := servingCertFiles(t, e.srv.PKI, dir, "127.0.0.1")
	n := &nodeProcess{t: t, log: filepath.Join(dir, "node.log"), args: []string{bin, "node",
		"--kubeconfig", e.srv.Kubeconfig, "--node-name", e.node, "--network", network, "--subnet", "10.90.2.0/24",
		"--node-ip", "127.0.0.1", "--dns=false", "--proxy=false", "--log-port", fmt.Sprint(freePort(t)), "--data-dir", filepath.Join(dir, "data"),
		"--tls-cert-file", certFile, "--tls-private-key-file", keyFile, "--pause-image", pause}}
	t.Cleanup(func() {
		n.kill()
		proctest.UnmountUnder(filepath.Join(dir, "data")) // the killed node's secret and token tmpfs
		if t.Failed() {
			b, _ := os.ReadFile(n.log)
			t.Logf("drover node output:\n%s", b)
		}
	})
	n.start()
	e.waitNodeReady()

	keep := e.create(testPod("keep", serverContainer("web", 8080), exitContainer("side", map[string]string{"SLEEP": "inf"})))
	gone := e.create(testPod("gone", exitContainer("main", map[string]string{"SLEEP": "inf"})))
	sandbox := e.create(testPod("sandbox", serverContainer("web", 8080)))
	ending := e.create(testPod("ending", exitContainer("main", map[string]string{"SLEEP": "inf"})))
	p := e.waitRunning("keep")
	e.waitRunning("gone")
	e.waitRunning("sandbox")
	e.waitRunning("ending")
	httpDo("POST", "http://"+p.Status.PodIP+":8080/exit?code=1")
	e.waitPod("keep", 20*time.Second, "web restarted once", func(p *corev1.Pod) bool {
		return status(p, "web").RestartCount == 1 && p.Status.Phase == corev1.PodRunning && podReady(p)
	})
	before := e.containerSet(string(keep.UID))
	if want := "POD/0/running side/0/running web/0/exited web/1/running"; summary(before) != want {
		t.Fatalf("containers of keep before the kill: %s, want %s", summary(before), want)
	}

	n.kill()
	zero := int64(0)
	if err := e.client.CoreV1().Pods("default").Delete(ctx, "gone", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.CoreV1().Pods("default").Get(ctx, "gone", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("gone after a forced delete: %v", err)
	}
	// A graceful deletion waits for the node agent.
	if err := e.client.CoreV1().Pods("default").Delete(ctx, "ending", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if p := e.get("ending"); p.DeletionTimestamp == nil {
		t.Fatal("ending has no deletionTimestamp")
	}
	var sandboxInfra string
	for _, c := range e.containers(string(sandbox.UID)) {
		if c.Labels[nodeagent.LabelContainer] == "POD" {
			sandboxInfra = c.ID
			if err := rt.Remove(ctx, c.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	n.start()

	e.poll(30*time.Second, "containers of the deleted pod removed", func() (bool, string) {
		cs := e.containers(string(gone.UID))
		return len(cs) == 0, fmt.Sprintf("%d left", len(cs))
	})
	e.poll(30*time.Second, "gracefully deleted pod finished", func() (bool, string) {
		_, err := e.client.CoreV1().Pods("default").Get(ctx, "ending", metav1.GetOptions{})
		n := len(e.containers(string(ending.UID)))
		return apierrors.IsNotFound(err) && n == 0, fmt.Sprintf("get: %v, %d containers", err, n)
	})
	e.poll(30*time.Second, "sandbox serves on a new infra container", func() (bool, string) {
		p := e.get("sandbox")
		for _, c := range e.containers(string(sandbox.UID)) {
			if c.Labels[nodeagent.LabelContainer] == "POD" && c.State == "running" && c.ID != sandboxInfra && p.Status.PodIP == c.IP {
				code, _, err := httpDo("GET", "http://"+c.IP+":8080/healthz")
				return code == 200 && podReady(p), fmt.Sprint(code, err, describeStatus(p))
			}
		}
		return false, describeStatus(p)
	})
	// The adopted pod keeps its containers (the same ones, no second set) and its restart count,
	// over several relists of the new agent.
	p = e.waitRunning("keep")
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		if after := e.containerSet(string(keep.UID)); summaryIDs(after) != summaryIDs(before) {
			t.Fatalf("containers of keep changed after the restart:\nbefore %s\nafter  %s", summaryIDs(before), summaryIDs(after))
		}
	}
	p = e.get("keep")
	if s := status(p, "web"); s.RestartCount != 1 || s.State.Running == nil || !podReady(p) {
		t.Errorf("keep after the restart: %s, want web running with 1 restart", describeStatus(p))
	}
	if out, err := e.kubectl("logs", "keep", "-c", "web", "--previous"); err != nil || !strings.Contains(out, "exiting with 1") {
		t.Errorf("logs --previous through the restarted agent: %q %v", out, err)
	}
	if _, _, err := rt.Client().ImageInspectWithRaw(ctx, pause); err != nil {
		t.Errorf("pause image built by drover node: %v", err)
	}
}

type ctrKey struct {
	name, attempt, state, id string
}

func (e *e2e) containerSet(uid string) []ctrKey {
	var out []ctrKey
	for _, c := range e.containers(uid) {
		out = append(out, ctrKey{c.Labels[nodeagent.LabelContainer], c.Labels[nodeagent.LabelAttempt], string(c.State), c.ID})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name+out[i].attempt < out[j].name+out[j].attempt })
	return out
}

func summary(cs []ctrKey) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, c.name+"/"+c.attempt+"/"+c.state)
	}
	return strings.Join(parts, " ")
}

func summaryIDs(cs []ctrKey) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, c.name+"/"+c.attempt+"/"+c.state+"/"+c.id[:12])
	}
	return strings.Join(parts, " ")
}
