package deployment_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/internal/uptest"
)

const webManifest = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 4
  selector:
    matchLabels: {app: web}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: web
        image: drover/testserver:1
        readinessProbe:
          httpGet: {path: /healthz, port: 8080}
          periodSeconds: 1
`

const zeroZeroManifest = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: stuck
spec:
  replicas: 2
  selector:
    matchLabels: {app: stuck}
  strategy:
    rollingUpdate: {maxSurge: 0, maxUnavailable: 0}
  template:
    metadata:
      labels: {app: stuck}
    spec:
      containers:
      - name: web
        image: drover/testserver:1
`

// dockerKubectl runs the real kubectl against a `drover up`.
type dockerKubectl struct {
	t          *testing.T
	kubeconfig string
}

// run runs kubectl with stdin (may be empty) and returns its combined output and error.
func (k *dockerKubectl) run(stdin string, args ...string) (string, error) {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(k.t.Context(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", k.kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (k *dockerKubectl) must(args ...string) string {
	k.t.Helper()
	out, err := k.run("", args...)
	if err != nil {
		k.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TestDeploymentOnDocker is issue 13's Deployment check with the real kubectl on real Docker
// (`drover up`): a Deployment of 4 with maxSurge 1, maxUnavailable 0 and a readiness probe;
// `kubectl set image` rolls it without ever fewer than 4 Ready pods (watched through the whole
// rollout) and `rollout status` exits 0; `rollout history` shows 2 revisions; `rollout undo`
// brings the old image back; pause/resume and restart work; a broken image stalls the rollout
// with the old pods serving, reaches ProgressDeadlineExceeded and `rollout status` exits
// non-zero; maxSurge and maxUnavailable both 0 are refused with the field path.
func TestDeploymentOnDocker(t *testing.T) {
	env := uptest.Start(t, uptest.Options{Name: "deploy", Subnet: "10.123.0.0/16", ServiceCIDR: "10.124.0.0/16",
		ClusterDNS: "10.124.0.10", NodePortRange: "32400-32449", Images: []string{"drover/testserver:1"}, NeedKubectl: true})
	k := &dockerKubectl{t: t, kubeconfig: env.Kubeconfig}
	cs := env.Client
	// A second tag of the test server is the "new version" (no registry here).
	if out, err := exec.Command("docker", "tag", "drover/testserver:1", "drover/testserver:deploy2").CombinedOutput(); err != nil {
		t.Fatalf("docker tag: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "drover/testserver:deploy2").Run() })

	if out, err := k.run(webManifest, "apply", "-f", "-"); err != nil || !strings.Contains(out, "deployment.apps/web created") {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	if out := k.must("rollout", "status", "deploy/web", "--timeout=3m"); !strings.Contains(out, `deployment "web" successfully rolled out`) {
		t.Fatalf("rollout status: %s", out)
	}

	// set image, watched: never fewer than 4 Ready pods.
	w := watchReady(t, cs, "web")
	if n := w.fewest(); n != 4 {
		t.Fatalf("%d Ready pods before the rollout, want 4", n)
	}
	k.must("set", "image", "deploy/web", "web=drover/testserver:deploy2")
	if out := k.must("rollout", "status", "deploy/web", "--timeout=3m"); !strings.Contains(out, "successfully rolled out") {
		t.Fatalf("rollout status: %s", out)
	}
	if n := w.fewest(); n < 4 {
		t.Errorf("%d Ready pods at one point of the rollout, want never fewer than 4", n)
	}
	checkImages(t, cs, "drover/testserver:deploy2", 4)

	out := k.must("rollout", "history", "deploy/web")
	t.Logf("kubectl rollout history deploy/web:\n%s", out)
	if !regexp.MustCompile(`(?m)^1\s+<none>\s*$`).MatchString(out) || !regexp.MustCompile(`(?m)^2\s+<none>\s*$`).MatchString(out) {
		t.Errorf("rollout history lacks revisions 1 and 2:\n%s", out)
	}
	if out := k.must("rollout", "history", "deploy/web", "--revision=1"); !strings.Contains(out, "drover/testserver:1") {
		t.Errorf("revision 1 is not the first image:\n%s", out)
	}

	// undo: the old image back, as revision 3.
	if out := k.must("rollout", "undo", "deploy/web"); !strings.Contains(out, "deployment.apps/web rolled back") {
		t.Errorf("undo: %s", out)
	}
	k.must("rollout", "status", "deploy/web", "--timeout=3m")
	if n := w.fewest(); n < 4 {
		t.Errorf("%d Ready pods at one point of the undo, want never fewer than 4", n)
	}
	checkImages(t, cs, "drover/testserver:1", 4)
	if out := k.must("rollout", "history", "deploy/web"); !regexp.MustCompile(`(?m)^3\s+<none>\s*$`).MatchString(out) ||
		regexp.MustCompile(`(?m)^1\s+<none>\s*$`).MatchString(out) {
		t.Errorf("history after the undo should show revisions 2 and 3:\n%s", out)
	}

	// pause: a template change waits; resume rolls it out.
	k.must("rollout", "pause", "deploy/web")
	k.must("set", "image", "deploy/web", "web=drover/testserver:deploy2")
	uptest.Eventually(t, 30*time.Second, "DeploymentPaused and the new image observed", func() bool {
		d := getDeployment(t, cs, "web")
		return progressingReason(t, cs, "web") == "DeploymentPaused" && d.Status.ObservedGeneration >= d.Generation &&
			d.Spec.Template.Spec.Containers[0].Image == "drover/testserver:deploy2"
	})
	// The template is revision 2's again; paused, its ReplicaSet stays at 0.
	if d := getDeployment(t, cs, "web"); d.Status.UpdatedReplicas != 0 || d.Status.Replicas != 4 {
		t.Errorf("paused deployment rolled: %+v", d.Status)
	}
	checkImages(t, cs, "drover/testserver:1", 4)
	k.must("rollout", "resume", "deploy/web")
	k.must("rollout", "status", "deploy/web", "--timeout=3m")
	checkImages(t, cs, "drover/testserver:deploy2", 4)

	// restart: new pods of the same image.
	before := podNames(t, cs, "web")
	k.must("rollout", "restart", "deploy/web")
	k.must("rollout", "status", "deploy/web", "--timeout=3m")
	checkImages(t, cs, "drover/testserver:deploy2", 4)
	for n := range podNames(t, cs, "web") {
		if before[n] {
			t.Errorf("pod %s survived rollout restart", n)
		}
	}
	if n := w.fewest(); n < 4 {
		t.Errorf("%d Ready pods at one point, want never fewer than 4", n)
	}

	// A broken image: the rollout stalls, the old pods keep serving, the deadline passes.
	k.must("patch", "deploy/web", "-p", `{"spec":{"progressDeadlineSeconds":10}}`)
	k.must("rollout", "status", "deploy/web", "--timeout=3m")
	k.must("set", "image", "deploy/web", "web=drover/missing:1")
	out, err := k.run("", "rollout", "status", "deploy/web", "--timeout=3m")
	t.Logf("kubectl rollout status of the broken image (%v):\n%s", err, out)
	if err == nil || !strings.Contains(out, `deployment "web" exceeded its progress deadline`) {
		t.Errorf("rollout status of a broken image: %v\n%s", err, out)
	}
	if r := progressingReason(t, cs, "web"); r != "ProgressDeadlineExceeded" {
		t.Errorf("Progressing reason %q", r)
	}
	if n := w.current(); n < 4 {
		t.Errorf("%d Ready pods after the broken rollout, want the 4 old ones", n)
	}
	if n := w.fewest(); n < 4 {
		t.Errorf("%d Ready pods at one point, want never fewer than 4", n)
	}

	helmUpgradeWaits(t, env.Kubeconfig, cs)

	// maxSurge and maxUnavailable both 0: refused with the field path, nothing stored.
	out, err = k.run(zeroZeroManifest, "apply", "-f", "-")
	if err == nil || !strings.Contains(out, "spec.strategy.rollingUpdate.maxUnavailable") || !strings.Contains(out, "may not be 0 when `maxSurge` is 0") {
		t.Errorf("apply with maxSurge 0 and maxUnavailable 0: %v\n%s", err, out)
	}
	if out, err := k.run("", "get", "deploy/stuck"); err == nil || !strings.Contains(out, "NotFound") {
		t.Errorf("the refused deployment exists: %v\n%s", err, out)
	}
}

func getDeployment(t *testing.T, cs kubernetes.Interface, name string) *appsv1.Deployment {
	t.Helper()
	d, err := cs.AppsV1().Deployments("default").Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func progressingReason(t *testing.T, cs kubernetes.Interface, name string) string {
	if c := condition(getDeployment(t, cs, name), appsv1.DeploymentProgressing); c != nil {
		return c.Reason
	}
	return ""
}

// checkImages: the app's pods not being deleted are n, all of image.
func checkImages(t *testing.T, cs kubernetes.Interface, image string, n int) {
	t.Helper()
	uptest.Eventually(t, 60*time.Second, "old pods gone", func() bool {
		var live []corev1.Pod
		list, err := cs.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false
		}
		for _, p := range list.Items {
			if p.DeletionTimestamp == nil {
				live = append(live, p)
			}
		}
		return len(live) == n
	})
	list, err := cs.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil && p.Spec.Containers[0].Image != image {
			t.Errorf("pod %s runs %s, want %s", p.Name, p.Spec.Containers[0].Image, image)
		}
	}
}

// podNames is the set of the app's pods not being deleted.
func podNames(t *testing.T, cs kubernetes.Interface, app string) map[string]bool {
	t.Helper()
	list, err := cs.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out[p.Name] = true
		}
	}
	return out
}

const helmDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: hweb
spec:
  replicas: 2
  selector:
    matchLabels: {app: hweb}
  strategy:
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata:
      labels: {app: hweb}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: web
        image: {{ .Values.image }}
        readinessProbe:
          httpGet: {path: /healthz, port: 8080}
          periodSeconds: 1
`

// helmUpgradeWaits: `helm upgrade --wait` of a chart's Deployment returns only once the new
// ReplicaSet has its pods Ready, and with an image that cannot be pulled it fails at its
// timeout while the old pods keep running.
func helmUpgradeWaits(t *testing.T, kubeconfig string, cs kubernetes.Interface) {
	t.Helper()
	helm := uptest.RequireHelm(t)
	dir := t.TempDir()
	for name, body := range map[string]string{
		"Chart.yaml":                "apiVersion: v2\nname: hweb\nversion: 0.1.0\n",
		"values.yaml":               "image: drover/testserver:1\n",
		"templates/deployment.yaml": helmDeployment,
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, helm, append(args, "--kubeconfig", kubeconfig, "--namespace", "default")...)
		cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(dir, ".cache"), "HELM_CONFIG_HOME="+filepath.Join(dir, ".config"),
			"HELM_DATA_HOME="+filepath.Join(dir, ".data"))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("install", "hweb", dir, "--wait", "--timeout", "3m"); err != nil {
		t.Fatalf("helm install --wait: %v\n%s", err, out)
	}
	if out, err := run("upgrade", "hweb", dir, "--set", "image=drover/testserver:deploy2", "--wait", "--timeout", "3m"); err != nil {
		t.Fatalf("helm upgrade --wait: %v\n%s", err, out)
	}
	// helm returned: the new ReplicaSet's pods are Ready already.
	list, err := cs.AppsV1().ReplicaSets("default").List(t.Context(), metav1.ListOptions{LabelSelector: "app=hweb"})
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range list.Items {
		if rs.Spec.Template.Spec.Containers[0].Image == "drover/testserver:deploy2" && rs.Status.ReadyReplicas < 2 {
			t.Errorf("helm upgrade --wait returned with %d Ready pods of the new image, want 2", rs.Status.ReadyReplicas)
		}
	}
	out, err := run("upgrade", "hweb", dir, "--set", "image=drover/missing:1", "--wait", "--timeout", "20s")
	t.Logf("helm upgrade --wait with a missing image (%v):\n%s", err, out)
	if err == nil {
		t.Errorf("helm upgrade --wait with a missing image succeeded:\n%s", out)
	}
	ready := 0
	pods, err := cs.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{LabelSelector: "app=hweb"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range pods.Items {
		if podReady(&pods.Items[i]) && pods.Items[i].Spec.Containers[0].Image == "drover/testserver:deploy2" {
			ready++
		}
	}
	if ready != 2 {
		t.Errorf("%d Ready pods of the previous image after the failed upgrade, want 2", ready)
	}
}
