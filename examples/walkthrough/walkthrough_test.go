// Package walkthrough_test drives the real kubectl (v1.32) against a real drover API server
// with the walkthrough's manifests, as the article's reader would.
package walkthrough_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/internal/uptest"
)

// kubectl runs kubectl against srv and returns its combined output.
type kubectl struct {
	t          testing.TB
	kubeconfig string
}

func newKubectl(t *testing.T) *kubectl {
	t.Helper()
	if _, err := exec.LookPath("kubectl"); err != nil {
		uptest.RequireE2E(t, "kubectl not found on PATH: "+err.Error())
	}
	srv := apiservertest.Start(t)
	return &kubectl{t: t, kubeconfig: srv.Kubeconfig}
}

func (k *kubectl) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", k.kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (k *kubectl) must(args ...string) string {
	k.t.Helper()
	out, err := k.run(args...)
	if err != nil {
		k.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func TestWalkthroughWithKubectl(t *testing.T) {
	k := newKubectl(t)

	out := k.must("apply", "-f", ".")
	for _, want := range []string{"replicationcontroller/jenkins created", "service/jenkins created", "replicationcontroller/jenkins-slave created"} {
		if !strings.Contains(out, want) {
			t.Errorf("apply output lacks %q:\n%s", want, out)
		}
	}

	// Every kind as a table and as JSON.
	out = k.must("get", "rc")
	for _, want := range []string{"NAME", "DESIRED", "CURRENT", "READY", "AGE", "jenkins", "jenkins-slave"} {
		if !strings.Contains(out, want) {
			t.Errorf("get rc lacks %q:\n%s", want, out)
		}
	}
	out = k.must("get", "services")
	for _, want := range []string{"TYPE", "CLUSTER-IP", "PORT(S)", "NodePort", "8080", "50000"} {
		if !strings.Contains(out, want) {
			t.Errorf("get services lacks %q:\n%s", want, out)
		}
	}
	var svc struct {
		Spec struct {
			Type  string `json:"type"`
			Ports []struct {
				Name string `json:"name"`
				Port int    `json:"port"`
			} `json:"ports"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(k.must("get", "service", "jenkins", "-o", "json")), &svc); err != nil {
		t.Fatal(err)
	}
	if svc.Spec.Type != "NodePort" || len(svc.Spec.Ports) != 2 || svc.Spec.Ports[0].Name != "http" || svc.Spec.Ports[1].Name != "slave" {
		t.Errorf("service jenkins = %+v, want NodePort with ports http and slave", svc.Spec)
	}
	var rc struct {
		Spec struct {
			Replicas int               `json:"replicas"`
			Selector map[string]string `json:"selector"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(k.must("get", "rc", "jenkins-slave", "-o", "json")), &rc); err != nil {
		t.Fatal(err)
	}
	if rc.Spec.Replicas != 1 || rc.Spec.Selector["name"] != "jenkins-slave" {
		t.Errorf("rc jenkins-slave spec = %+v, want 1 replica and the selector defaulted from the template labels", rc.Spec)
	}
	for _, kind := range []string{"pods", "namespaces", "endpoints", "configmaps", "secrets", "events", "serviceaccounts", "persistentvolumes", "persistentvolumeclaims", "nodes", "leases", "jobs", "cronjobs"} {
		k.must("get", kind, "-A")
		k.must("get", kind, "-A", "-o", "json")
	}

	// get pods -w sees a create.
	watchOut := k.watch(t, "get", "pods", "-w")
	k.must("run", "watched", "--image=busybox:1.36", "--restart=Never")
	uptest.Eventually(t, 30*time.Second, "kubectl get pods -w to show the new pod", func() bool { return strings.Contains(watchOut(), "watched") })

	// scale updates the spec.
	k.must("scale", "rc", "jenkins-slave", "--replicas=2")
	if got := k.must("get", "rc", "jenkins-slave", "-o", "jsonpath={.spec.replicas}"); got != "2" {
		t.Errorf("after scale, spec.replicas = %q, want 2", got)
	}

	// Re-applying after the scale reconfigures; a second time nothing changes.
	if out := k.must("apply", "-f", "."); !strings.Contains(out, "replicationcontroller/jenkins-slave configured") || !strings.Contains(out, "service/jenkins unchanged") {
		t.Errorf("re-apply output:\n%s", out)
	}

	// delete -f removes everything it created.
	k.must("delete", "-f", ".")
	k.must("delete", "pod", "watched")
	if out := k.must("get", "rc,svc,pods", "-o", "name"); strings.TrimSpace(out) != "" {
		t.Errorf("after delete -f, still there:\n%s", out)
	}
}

func TestKubectlAPIResources(t *testing.T) {
	k := newKubectl(t)
	out := k.must("api-resources")
	for _, want := range []string{"namespaces", "pods", "replicationcontrollers", "services", "endpoints", "nodes",
		"persistentvolumes", "persistentvolumeclaims", "secrets", "configmaps", "events", "serviceaccounts",
		"leases", "jobs", "cronjobs"} {
		found := false
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[0] == want {
				found = true
			}
		}
		if !found {
			t.Errorf("kubectl api-resources lacks %s:\n%s", want, out)
		}
	}
}

func TestKubectlRefusesBadInput(t *testing.T) {
	k := newKubectl(t)
	dir := t.TempDir()
	cases := []struct {
		name, manifest, want string
	}{
		{"upper-case name", "apiVersion: v1\nkind: Pod\nmetadata: {name: Web}\nspec: {containers: [{name: c, image: busybox}]}\n", "metadata.name"},
		{"missing image", "apiVersion: v1\nkind: Pod\nmetadata: {name: noimage}\nspec: {containers: [{name: c}]}\n", "spec.containers[0].image: Required value"},
		{"duplicate port", "apiVersion: v1\nkind: Pod\nmetadata: {name: dup}\nspec: {containers: [{name: c, image: busybox, ports: [{containerPort: 80}, {containerPort: 80}]}]}\n", "spec.containers[0].ports[1]"},
		{"unknown field", "apiVersion: v1\nkind: Pod\nmetadata: {name: unk}\nspec: {containers: [{name: c, image: busybox, colour: red}]}\n", "colour"},
		{"malformed yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: bad\n", "yaml"},
		{"unknown kind", "apiVersion: v1\nkind: Frobnicator\nmetadata: {name: f}\n", "Frobnicator"},
		{"wrong apiVersion", "apiVersion: apps/v9\nkind: Pod\nmetadata: {name: p}\n", "apps/v9"},
	}
	for _, c := range cases {
		path := dir + "/" + strings.ReplaceAll(c.name, " ", "-") + ".yaml"
		if err := os.WriteFile(path, []byte(c.manifest), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := k.run("apply", "-f", path)
		if err == nil {
			t.Errorf("%s: kubectl apply succeeded:\n%s", c.name, out)
			continue
		}
		if !strings.Contains(out, c.want) {
			t.Errorf("%s: error does not mention %q:\n%s", c.name, c.want, out)
		}
	}
	if out := k.must("get", "pods", "-o", "name"); strings.TrimSpace(out) != "" {
		t.Errorf("bad input created objects:\n%s", out)
	}
}

// watch starts a long-running kubectl and returns a function reading its output so far.
func (k *kubectl) watch(t *testing.T, args ...string) func() string {
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", k.kubeconfig}, args...)...)
	var mu sync.Mutex
	var buf bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return buf.Write(p) })
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	return func() string { mu.Lock(); defer mu.Unlock(); return buf.String() }
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
