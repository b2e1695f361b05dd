package app

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
)

const walkthrough = "../../../examples/walkthrough"

// cli runs drover commands against a real API server.
type cli struct {
	t          *testing.T
	kubeconfig string
}

func startCLI(t *testing.T) *cli {
	t.Helper()
	srv := apiservertest.Start(t)
	return &cli{t: t, kubeconfig: srv.Kubeconfig}
}

// run executes a command and returns stdout, stderr and the error.
func (c *cli) run(stdin string, args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	args = append(args, "--kubeconfig", c.kubeconfig)
	start := time.Now()
	defer func() { c.t.Logf("drover %s: %s", strings.Join(args[:len(args)-2], " "), time.Since(start)) }()
	err := Run(c.t.Context(), args, Streams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut})
	return out.String(), errOut.String(), err
}

// must runs a command that has to succeed and returns its stdout.
func (c *cli) must(args ...string) string {
	c.t.Helper()
	out, errOut, err := c.run("", args...)
	if err != nil {
		c.t.Fatalf("drover %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut)
	}
	return out
}

func TestE2EApplyGetScaleDelete(t *testing.T) {
	c := startCLI(t)
	out := c.must("apply", "-f", walkthrough)
	want := "replicationcontroller/jenkins created\nreplicationcontroller/jenkins-slave created\nservice/jenkins created\n"
	if out != want {
		t.Errorf("first apply:\n%s\nwant:\n%s", out, want)
	}
	if out := c.must("apply", "-f", walkthrough); !strings.Contains(out, "replicationcontroller/jenkins-slave unchanged") {
		t.Errorf("second apply:\n%s", out)
	}

	out = c.must("get", "rc")
	if !strings.HasPrefix(out, "NAME") || !strings.Contains(out, "DESIRED") || !strings.Contains(out, "jenkins-slave") {
		t.Errorf("get rc:\n%s", out)
	}
	if out := c.must("get", "svc", "jenkins", "-o", "wide"); !strings.Contains(out, "jenkins") {
		t.Errorf("get svc -o wide:\n%s", out)
	}
	if out := c.must("get", "rc,svc", "-o", "name"); out != "replicationcontroller/jenkins\nreplicationcontroller/jenkins-slave\nservice/jenkins\n" {
		t.Errorf("get -o name:\n%s", out)
	}
	if out := c.must("get", "all", "-A"); !strings.Contains(out, "NAMESPACE") || !strings.Contains(out, "service/jenkins") {
		t.Errorf("get all -A:\n%s", out)
	}

	out = c.must("scale", "rc", "jenkins-slave", "--replicas=2")
	if out != "replicationcontroller/jenkins-slave scaled\n" {
		t.Errorf("scale: %q", out)
	}
	if got := specReplicas(t, c.must("get", "rc/jenkins-slave", "-o", "json")); got != 2 {
		t.Errorf("spec.replicas after scale = %d, want 2", got)
	}
	if _, _, err := c.run("", "scale", "rc/jenkins-slave", "--current-replicas=5", "--replicas=3"); err == nil || !strings.Contains(err.Error(), "expected replicas to be 5, was 2") {
		t.Errorf("scale with a wrong precondition: %v", err)
	}
	// As with kubectl, apply sets the replicas written in the file again (the live value
	// differs from the file's), while an unchanged file elsewhere stays unchanged.
	if out := c.must("apply", "-f", walkthrough+"/jenkins-slaves.yml"); out != "replicationcontroller/jenkins-slave configured\n" {
		t.Errorf("apply after scale: %s", out)
	}
	if got := specReplicas(t, c.must("get", "rc", "jenkins-slave", "-o", "yaml")); got != 1 {
		t.Errorf("spec.replicas after apply = %d, want 1", got)
	}

	out = c.must("describe", "rc", "jenkins-slave")
	for _, want := range []string{"Name:", "jenkins-slave", "Replicas:", "1 desired", "Pods Status:", "Pod Template:", "Image:", "Events:"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
	if out := c.must("describe", "svc", "jenkins"); !strings.Contains(out, "NodePort") || !strings.Contains(out, "8080/TCP") {
		t.Errorf("describe svc:\n%s", out)
	}

	out = c.must("delete", "-f", walkthrough)
	if !strings.Contains(out, `replicationcontroller "jenkins-slave" deleted`) || !strings.Contains(out, `service "jenkins" deleted`) {
		t.Errorf("delete:\n%s", out)
	}
	_, errOut, err := c.run("", "get", "rc", "jenkins-slave")
	if err == nil || !strings.Contains(errOut, "NotFound") {
		t.Errorf("get after delete: err %v, stderr %q", err, errOut)
	}
}

func specReplicas(t *testing.T, js string) int {
	t.Helper()
	var obj struct {
		Spec struct{ Replicas int } `json:"spec"`
	}
	if err := yaml.Unmarshal([]byte(js), &obj); err != nil {
		t.Fatalf("decoding %q: %v", js, err)
	}
	return obj.Spec.Replicas
}

func TestE2ECreateRejectsBadFileAtomically(t *testing.T) {
	c := startCLI(t)
	bad := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\n---\napiVersion: v1\nkind: Gadget\nmetadata: {name: two}\n"
	_, _, err := c.run(bad, "create", "-f", "-")
	if err == nil || !strings.Contains(err.Error(), "STDIN: document 2") {
		t.Fatalf("create: %v", err)
	}
	if _, errOut, err := c.run("", "get", "configmap", "one"); err == nil {
		t.Errorf("configmap one was created despite the bad document (%s)", errOut)
	}
	// A server-side rejection (upper-case name) is reported with the server's message.
	_, _, err = c.run("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Upper}\n", "create", "-f", "-")
	if err == nil || !strings.Contains(err.Error(), "metadata.name") {
		t.Errorf("create with an invalid name: %v", err)
	}
}

func TestE2EWatchAndVersion(t *testing.T) {
	c := startCLI(t)
	if out := c.must("version"); !strings.Contains(out, "Client Version:") || !strings.Contains(out, "Server Version:") {
		t.Errorf("version:\n%s", out)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var mu sync.Mutex
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"get", "configmaps", "-w", "--kubeconfig", c.kubeconfig},
			Streams{In: strings.NewReader(""), Out: lockedWriter{&mu, &out}, ErrOut: &bytes.Buffer{}})
	}()
	time.Sleep(300 * time.Millisecond)
	if _, errOut, err := c.run("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: watched}\n", "create", "-f", "-"); err != nil {
		t.Fatalf("create: %v %s", err, errOut)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		got := out.String()
		mu.Unlock()
		if strings.Contains(got, "watched") {
			if !strings.HasPrefix(got, "NAME") {
				t.Errorf("watch output lacks a header:\n%s", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("watch did not print the new configmap; output:\n%s", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("watch ended with %v", err)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestE2EPodsAndDeleteBySelector(t *testing.T) {
	c := startCLI(t)
	pods := `apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Pod, metadata: {name: a, labels: {app: x}}, spec: {containers: [{name: c, image: busybox}]}}
- {apiVersion: v1, kind: Pod, metadata: {name: b, labels: {app: x}}, spec: {containers: [{name: c, image: busybox}]}}
- {apiVersion: v1, kind: Pod, metadata: {name: other}, spec: {containers: [{name: c, image: busybox}]}}
`
	if out, errOut, err := c.run(pods, "create", "-f", "-"); err != nil || out != "pod/a created\npod/b created\npod/other created\n" {
		t.Fatalf("create: %v %q %s", err, out, errOut)
	}
	out := c.must("get", "pods", "-l", "app=x", "--show-labels")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[0], "STATUS") ||
		!strings.HasSuffix(lines[0], "LABELS") || !strings.HasSuffix(lines[1], "app=x") {
		t.Errorf("get pods -l app=x:\n%s", out)
	}
	out = c.must("describe", "pod", "a")
	for _, want := range []string{"Name:", "Containers:", "Image:", "busybox", "Events:"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe pod lacks %q:\n%s", want, out)
		}
	}
	out = c.must("delete", "pods", "-l", "app=x", "--timeout=10s")
	if out != "pod \"a\" deleted\npod \"b\" deleted\n" {
		t.Errorf("delete -l:\n%s", out)
	}
	if out := c.must("get", "pods", "-o", "name"); out != "pod/other\n" {
		t.Errorf("pods left: %q", out)
	}
	if _, _, err := c.run("", "delete", "pods"); err == nil {
		t.Error("delete of a type without names, -l or --all was accepted")
	}
	if out := c.must("delete", "pod", "missing", "--ignore-not-found"); out != "" {
		t.Errorf("delete --ignore-not-found: %q", out)
	}
}
