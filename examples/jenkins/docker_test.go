package jenkins

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cloud/provider"
	"github.com/drover-ci/drover/cmd/drover/app"
	"github.com/drover-ci/drover/internal/uptest"
)

const (
	controllerImage = "drover/fake-jenkins:1"       // stands in for jenkins/jenkins (no registry here)
	agentImage      = "drover/jenkins-agent-test:1" // stands in for jenkins/inbound-agent
)

// TestInstallOnDocker: `drover jenkins install` on `drover up` with real Docker, the fake
// Jenkins image standing in for the official one. The controller comes up behind its Service
// with the admin token from the Secret; the cloud provider finds it through the Service name
// (resolved to the cluster IP) with the Secret's credentials, and a build queued on label
// docker runs on a one-shot agent pod that then goes; the controller's container killed, a new
// one runs with the same JENKINS_HOME content; uninstall keeps the claim.
func TestInstallOnDocker(t *testing.T) {
	up := uptest.Start(t, uptest.Options{Name: "jinstall", Subnet: "10.71.0.0/16", ServiceCIDR: "10.72.0.0/16",
		ClusterDNS: "10.73.0.10", NodePortRange: "32600-32799", Images: []string{controllerImage, agentImage}})
	cs := up.Client
	drover := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		err := app.Run(ctx, append(args, "--kubeconfig", up.Kubeconfig), app.Streams{In: strings.NewReader(""), Out: &out, ErrOut: &out})
		if err != nil {
			t.Fatalf("drover %s: %v\n%s\ndrover up log:\n%s", strings.Join(args, " "), err, out.String(), tailFile(up.Log))
		}
		return out.String()
	}
	out := drover("jenkins", "install", "-n", "ci", "--image", controllerImage, "--agent-image", agentImage,
		"--liveness-delay", "5", "--set", "volumePermissions=false", "--set", "persistence.hostPath="+t.TempDir(), "--timeout", "3m")
	t.Logf("install:\n%s", out)
	if !strings.Contains(out, "Running") {
		t.Fatalf("install did not report the pod Running:\n%s", out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	svc, err := cs.CoreV1().Services("ci").Get(ctx, "jenkins", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sec, err := cs.CoreV1().Secrets("ci").Get(ctx, "jenkins-admin", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	j := jenkinsAPI{url: "http://" + svc.Spec.ClusterIP + ":8080", user: string(sec.Data["user"]), token: string(sec.Data["token"])}
	eventually(t, 90*time.Second, "Jenkins answering on its cluster IP with the Secret's token", func() bool {
		code, _, err := j.do("GET", "/api/json", "", nil)
		return err == nil && code == http.StatusOK
	})

	// The provider connected through the Service name with the Secret.
	eventually(t, 90*time.Second, "the provider connected (status without error)", func() bool {
		st, ok := readStatus(cs, "ci")
		return ok && st.JenkinsError == "" && !st.UpdatedAt.IsZero()
	})
	j.createJob(t, "hello", "docker", "echo hello")
	j.build(t, "hello")
	eventually(t, 3*time.Minute, "build hello #1 SUCCESS", func() bool {
		code, body, err := j.do("GET", "/job/hello/1/api/json?tree=building,result,builtOn", "", nil)
		if err != nil || code != http.StatusOK {
			return false
		}
		var b struct {
			Building bool
			Result   string
			BuiltOn  string
		}
		return json.Unmarshal(body, &b) == nil && !b.Building && b.Result == "SUCCESS" && strings.HasPrefix(b.BuiltOn, "default-")
	})
	eventually(t, 90*time.Second, "the one-shot agent pod gone", func() bool {
		pods, err := cs.CoreV1().Pods("ci").List(ctx, metav1.ListOptions{LabelSelector: provider.LabelAgent})
		return err == nil && len(pods.Items) == 0
	})
	out = drover("jenkins", "status", "-n", "ci")
	if !strings.Contains(out, "connected") || !strings.Contains(out, "default") {
		t.Errorf("status:\n%s", out)
	}

	// Self-healing: the controller's container killed, a new one runs with the same JENKINS_HOME.
	pod := jenkinsPod(t, cs)
	id := containerOf(t, pod.Name, "jenkins")
	if err := exec.Command("docker", "kill", id).Run(); err != nil {
		t.Fatalf("docker kill %s: %v", id, err)
	}
	eventually(t, 2*time.Minute, "a new controller container running", func() bool {
		n := containerOf(t, pod.Name, "jenkins")
		return n != "" && n != id
	})
	eventually(t, 90*time.Second, "job hello still there after the restart", func() bool {
		code, _, err := j.do("GET", "/job/hello/1/api/json?tree=result", "", nil)
		return err == nil && code == http.StatusOK
	})

	out = drover("jenkins", "uninstall", "-n", "ci")
	if _, err := cs.CoreV1().PersistentVolumeClaims("ci").Get(ctx, "jenkins-home", metav1.GetOptions{}); err != nil {
		t.Errorf("the claim is gone after uninstall: %v\n%s", err, out)
	}
	eventually(t, 90*time.Second, "the controller pod gone", func() bool {
		pods, err := cs.CoreV1().Pods("ci").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=jenkins"})
		return err == nil && len(pods.Items) == 0
	})
}

func jenkinsPod(t *testing.T, cs kubernetes.Interface) corev1.Pod {
	t.Helper()
	pods, err := cs.CoreV1().Pods("ci").List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=jenkins"})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("controller pods: %v %v", pods, err)
	}
	return pods.Items[0]
}

// containerOf returns the running Docker container of a pod's container ("" if none runs).
func containerOf(t *testing.T, pod, container string) string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-q", "--filter", "label=drover.io/pod-name="+pod,
		"--filter", "label=drover.io/container-name="+container).Output()
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	if f := strings.Fields(string(out)); len(f) > 0 {
		return f[0]
	}
	return ""
}

func readStatus(cs kubernetes.Interface, ns string) (provider.Status, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, provider.StatusConfigMap, metav1.GetOptions{})
	if err != nil {
		return provider.Status{}, false
	}
	var st provider.Status
	if json.Unmarshal([]byte(cm.Data[provider.StatusKey]), &st) != nil {
		return provider.Status{}, false
	}
	return st, true
}

// jenkinsAPI calls Jenkins with a user's API token (no crumb needed).
type jenkinsAPI struct{ url, user, token string }

func (j jenkinsAPI) do(method, path, ctype string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, j.url+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.SetBasicAuth(j.user, j.token)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, nil
}

func (j jenkinsAPI) createJob(t *testing.T, name, label, command string) {
	t.Helper()
	xml := fmt.Sprintf(`<?xml version='1.0' encoding='UTF-8'?>
<project><assignedNode>%s</assignedNode><canRoam>false</canRoam>
<builders><hudson.tasks.Shell><command>%s</command></hudson.tasks.Shell></builders></project>`, label, command)
	if code, body, err := j.do("POST", "/createItem?name="+name, "application/xml", []byte(xml)); err != nil || code != http.StatusOK {
		t.Fatalf("create job %s: %d %v %s", name, code, err, body)
	}
}

func (j jenkinsAPI) build(t *testing.T, job string) {
	t.Helper()
	if code, body, err := j.do("POST", "/job/"+job+"/build?delay=0sec", "", nil); err != nil || code != http.StatusCreated {
		t.Fatalf("build %s: %d %v %s", job, code, err, body)
	}
}

func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func tailFile(path string) string {
	out, _ := exec.Command("tail", "-n", "40", path).Output()
	return string(out)
}
