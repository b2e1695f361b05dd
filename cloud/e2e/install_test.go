package e2e_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/internal/uptest"
)

// TestInstalledControllerOnDocker: `drover jenkins install` (with the fake Jenkins image standing
// in for jenkins/jenkins) brings up the controller StatefulSet, its Service and volume, and points the
// cloud provider at it with nothing to type; a build on the default template's label gets an
// agent that reaches the controller through the Service's DNS name and runs it; the
// controller's container killed → a new one Running with the same JENKINS_HOME; uninstall keeps
// the volume unless asked.
func TestInstalledControllerOnDocker(t *testing.T) {
	uptest.CheckDocker(t, agentImage, "drover/fake-jenkins:1")
	env := uptest.Start(t, uptest.Options{Name: "jinst", Subnet: "10.94.0.0/16", ServiceCIDR: "10.104.0.0/16",
		ClusterDNS: "10.114.0.10", NodePortRange: "32600-32799"})
	cs := env.Client
	home := t.TempDir()
	drover := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, env.Drover, append([]string{"--kubeconfig", env.Kubeconfig}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("drover %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	out := drover("jenkins", "install", "--image", "drover/fake-jenkins:1", "--agent-image", agentImage,
		"--liveness-delay", "5", "--set", "persistence.hostPath="+home, "--set", "volumePermissions=false",
		"--timeout", "3m")
	t.Logf("install:\n%s", out)

	ctx := context.Background()
	sec, err := cs.CoreV1().Secrets("jenkins").Get(ctx, "jenkins-admin", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := cs.CoreV1().Services("jenkins").Get(ctx, "jenkins", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	api := jenkinsAPI{url: "http://" + svc.Spec.ClusterIP + ":8080", user: string(sec.Data["user"]), token: string(sec.Data["token"])}
	uptest.Eventually(t, 90*time.Second, "the controller answering through its Service", func() bool {
		code, _, err := api.do("GET", "/api/json", "", nil)
		return err == nil && code == 200
	})

	// No credential in the controller container's environment (docker inspect shows it, and
	// everything Jenkins starts inherits it), nor in a build's (issue 16).
	pw, tok := string(sec.Data["password"]), string(sec.Data["token"])
	if pw == "" || tok == "" {
		t.Fatalf("secret jenkins-admin without password or token: %v", sec.Data)
	}
	// This drover's node only: other packages' tests run a jenkins-0 of their own on the same engine.
	ctlIDs, _ := exec.Command("docker", "ps", "-q", "--filter", "label=drover.io/node="+env.Node, "--filter", "label=drover.io/pod-name=jenkins-0",
		"--filter", "label=drover.io/pod-namespace=jenkins", "--filter", "label=drover.io/container-name=jenkins").Output()
	if f := strings.Fields(string(ctlIDs)); len(f) != 1 {
		t.Fatalf("controller containers %q", f)
	}
	var ctlEnv, ctlArgs []string
	for format, into := range map[string]*[]string{"{{json .Config.Env}}": &ctlEnv, "{{json .Args}}": &ctlArgs} {
		out, err := exec.Command("docker", "inspect", "-f", format, strings.TrimSpace(string(ctlIDs))).Output()
		if err != nil || json.Unmarshal(out, into) != nil {
			t.Fatalf("docker inspect -f %s: %v", format, err)
		}
	}
	if leaks := credentialVars(ctlEnv, pw, tok); len(leaks) != 0 || len(ctlEnv) == 0 {
		t.Errorf("the controller container's environment holds a credential in %q (%d variables)", leaks, len(ctlEnv))
	}
	if leaks := credentialVars(ctlArgs, pw, tok); len(leaks) != 0 {
		t.Errorf("the controller container's arguments hold a credential (%d of them)", len(leaks))
	}
	api.createJob(t, "env", "docker", "env")
	api.build(t, "env")
	if b := waitBuilds(t, api, "env", 1, 120*time.Second)[0]; b.Result != "SUCCESS" {
		t.Fatalf("env #1: %s on %q", b.Result, b.BuiltOn)
	}
	code, console, err := api.do("GET", "/job/env/1/consoleText", "", nil)
	if err != nil || code != 200 || !strings.Contains(string(console), "JENKINS_URL=") {
		t.Fatalf("env #1 console: %d %v\n%s", code, err, console)
	}
	if leaks := credentialVars(strings.Split(string(console), "\n"), pw, tok); len(leaks) != 0 {
		t.Errorf("a build's environment holds a credential: %q", leaks)
	}
	// The built-in node runs no builds: it has no executors.
	var root struct {
		NumExecutors int `json:"numExecutors"`
	}
	if code, body, err := api.do("GET", "/api/json?tree=numExecutors", "", nil); err != nil || code != 200 || json.Unmarshal(body, &root) != nil || root.NumExecutors != 0 {
		t.Errorf("built-in node: %d %v %s, want numExecutors 0", code, err, body)
	}

	api.createJob(t, "hello", "docker", "echo hello from the agent; sleep 1")
	api.build(t, "hello")
	b := waitBuilds(t, api, "hello", 1, 120*time.Second)[0]
	if b.Result != "SUCCESS" || !strings.HasPrefix(b.BuiltOn, "default-") {
		t.Fatalf("hello #1: %s on %q, want SUCCESS on a default-* agent", b.Result, b.BuiltOn)
	}
	uptest.Eventually(t, 60*time.Second, "the one-shot agent gone", func() bool {
		return len(agentPods(t, cs, "jenkins", "")) == 0
	})
	if st, ok := status(cs, "jenkins"); !ok || len(st.Templates) != 1 || st.Templates[0].Name != "default" {
		t.Errorf("provider status in namespace jenkins: %+v (found %v)", st, ok)
	}
	if out := drover("jenkins", "status", "--namespace", "jenkins"); !strings.Contains(out, "default") {
		t.Errorf("drover jenkins status does not show the default template:\n%s", out)
	}

	// Kill the controller's container: the StatefulSet's pod gets a new one, JENKINS_HOME kept.
	pods, err := cs.CoreV1().Pods("jenkins").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=jenkins"})
	if err != nil || len(pods.Items) != 1 {
		pods, err = cs.CoreV1().Pods("jenkins").List(ctx, metav1.ListOptions{})
	}
	var ctl *corev1.Pod
	for i := range pods.Items {
		if len(pods.Items[i].OwnerReferences) > 0 && pods.Items[i].OwnerReferences[0].Kind == "StatefulSet" {
			ctl = &pods.Items[i]
		}
	}
	if err != nil || ctl == nil {
		t.Fatalf("no controller pod: %v", err)
	}
	ids, _ := exec.Command("docker", "ps", "-q", "--filter", "label=drover.io/node="+env.Node, "--filter", "label=drover.io/pod-name="+ctl.Name,
		"--filter", "label=drover.io/container-name="+ctl.Spec.Containers[0].Name).Output()
	id := strings.TrimSpace(string(ids))
	if id == "" {
		t.Fatalf("no container for %s", ctl.Name)
	}
	if out, err := exec.Command("docker", "kill", id).CombinedOutput(); err != nil {
		t.Fatalf("docker kill: %v %s", err, out)
	}
	uptest.Eventually(t, 120*time.Second, "a new controller container Running", func() bool {
		ids, _ := exec.Command("docker", "ps", "-q", "--filter", "label=drover.io/node="+env.Node, "--filter", "label=drover.io/container-name="+ctl.Spec.Containers[0].Name,
			"--filter", "label=drover.io/pod-namespace=jenkins").Output()
		f := strings.Fields(string(ids))
		return len(f) == 1 && f[0] != id
	})
	uptest.Eventually(t, 90*time.Second, "the restarted controller answering with build hello #1 kept", func() bool {
		b, ok := api.buildInfo("hello", 1)
		return ok && b.Result == "SUCCESS"
	})
	if _, err := os.Stat(filepath.Join(home, "drover-fake-jenkins.json")); err != nil {
		t.Errorf("JENKINS_HOME on the volume: %v", err)
	}

	drover("jenkins", "uninstall", "--namespace", "jenkins")
	uptest.Eventually(t, 60*time.Second, "the StatefulSet and Service gone", func() bool {
		_, e1 := cs.AppsV1().StatefulSets("jenkins").Get(ctx, "jenkins", metav1.GetOptions{})
		_, e2 := cs.CoreV1().Services("jenkins").Get(ctx, "jenkins", metav1.GetOptions{})
		return e1 != nil && e2 != nil
	})
	if _, err := cs.CoreV1().PersistentVolumeClaims("jenkins").Get(ctx, "jenkins-home-jenkins-0", metav1.GetOptions{}); err != nil {
		t.Errorf("uninstall without --delete-volume removed the claim: %v", err)
	}
	drover("jenkins", "uninstall", "--namespace", "jenkins", "--delete-volume")
	uptest.Eventually(t, 60*time.Second, "the claim gone", func() bool {
		_, err := cs.CoreV1().PersistentVolumeClaims("jenkins").Get(ctx, "jenkins-home-jenkins-0", metav1.GetOptions{})
		return err != nil
	})
}

// credentialVars names the NAME=VALUE entries of env that hold one of the credentials, or are
// drover's former DROVER_ADMIN_* variables (names only: the values are not to be logged).
func credentialVars(env []string, creds ...string) []string {
	var names []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		leak := strings.HasPrefix(name, "DROVER_ADMIN")
		for _, c := range creds {
			leak = leak || strings.Contains(kv, c)
		}
		if leak {
			names = append(names, name)
		}
	}
	return names
}
