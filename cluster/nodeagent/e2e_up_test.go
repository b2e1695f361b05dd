package nodeagent_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/nodeagent"
)

// `drover up` (server, controllers and node agent in one process, the README's run command)
// runs a replication controller's pods on Docker, serves their logs to kubectl, removes them
// on delete, and stops cleanly on SIGTERM.
func TestE2EDroverUp(t *testing.T) {
	t.Parallel()
	rt := e2eRuntime(t)
	ctx := context.Background()
	dir := t.TempDir()
	bin := buildDrover(t, dir)
	node, netName := e2eNodeName(t), "drover-e2e-up"
	t.Cleanup(func() {
		cs, _ := rt.List(ctx, map[string]string{nodeagent.LabelNode: node})
		for _, c := range cs {
			_ = rt.Remove(ctx, c.ID)
		}
		_ = rt.Client().NetworkRemove(ctx, netName)
	})
	data := filepath.Join(dir, "data")
	logf, err := os.Create(filepath.Join(dir, "up.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	up := exec.Command(bin, "up", "--data-dir", data, "--listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"--node-name", node, "--network", netName, "--subnet", "10.90.3.0/24", "--log-port", fmt.Sprint(freePort(t)), "--node-ip", "127.0.0.1", "--dns=false", "--proxy=false")
	up.Stdout, up.Stderr = logf, logf
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- up.Wait() }()
	t.Cleanup(func() {
		_ = up.Process.Signal(syscall.SIGKILL)
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("drover up output:\n%s", b)
		}
	})
	e := &e2e{t: t, rt: rt, node: node}
	kubeconfig := filepath.Join(data, "kubeconfig")
	e.poll(30*time.Second, "drover up writes its kubeconfig", func() (bool, string) {
		_, err := os.Stat(kubeconfig)
		return err == nil, fmt.Sprint(err)
	})
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if e.client, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	e.srv = &apiservertest.Server{Kubeconfig: kubeconfig}
	e.waitNodeReady()

	manifest := filepath.Join(dir, "rc.yaml")
	if err := os.WriteFile(manifest, []byte(fmt.Sprintf(`apiVersion: v1
kind: ReplicationController
metadata:
  name: hello
spec:
  replicas: 2
  selector: {app: hello}
  template:
    metadata:
      labels: {app: hello}
    spec:
      nodeName: %s
      terminationGracePeriodSeconds: 2
      containers:
      - name: hello
        image: drover/exit:1
        args: ["hello from drover up"]
        env: [{name: SLEEP, value: inf}]
`, node)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := e.kubectl("apply", "-f", manifest); err != nil {
		t.Fatal(out, err)
	}
	var pods []string
	e.poll(40*time.Second, "two hello pods running", func() (bool, string) {
		out, err := e.kubectl("get", "pods", "-l", "app=hello", "-o", "jsonpath={range .items[*]}{.metadata.name} {.status.phase}{\"\\n\"}{end}")
		if err != nil {
			return false, err.Error()
		}
		pods = nil
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if name, phase, _ := strings.Cut(l, " "); phase == "Running" {
				pods = append(pods, name)
			}
		}
		return len(pods) == 2, out
	})
	if out, err := e.kubectl("logs", pods[0]); err != nil || out != "hello from drover up\n" {
		t.Errorf("kubectl logs %s = %q, %v", pods[0], out, err)
	}
	if n := len(e.containers("")); n != 4 {
		t.Errorf("%d containers on the engine, want 4 (two pods, infra + app each)", n)
	}
	if out, err := e.kubectl("delete", "rc", "hello"); err != nil {
		t.Fatal(out, err)
	}
	e.poll(30*time.Second, "pods and containers gone", func() (bool, string) {
		out, _ := e.kubectl("get", "pods", "-o", "name")
		n := len(e.containers(""))
		return strings.TrimSpace(out) == "" && n == 0, fmt.Sprintf("pods %q, %d containers", out, n)
	})
	nw, err := rt.Client().NetworkInspect(ctx, netName, types.NetworkInspectOptions{})
	if err != nil || len(nw.IPAM.Config) == 0 || nw.IPAM.Config[0].Subnet != "10.90.3.0/24" {
		t.Errorf("network %s: %+v %v", netName, nw.IPAM, err)
	}

	if err := up.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("drover up after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Error("drover up did not stop within 20s of SIGTERM")
	}
}
