package e2e_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/internal/uptest"
)

const fakeJenkins = "drover/fake-jenkins:1"

// controllerPod is the StatefulSet's pod jenkins-0 when it runs image and is Ready (nil otherwise).
func controllerPod(cs kubernetes.Interface, ns, image string) *corev1.Pod {
	p, err := cs.CoreV1().Pods(ns).Get(context.Background(), "jenkins-0", metav1.GetOptions{})
	if err != nil || p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning || p.Spec.Containers[0].Image != image {
		return nil
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return p
		}
	}
	return nil
}

// rolledOut reports whether the StatefulSet jenkins is as helm --wait and kubectl rollout
// status want it: the newest generation observed, its one pod updated and Ready, the current
// revision the update revision.
func rolledOut(t testing.TB, cs kubernetes.Interface, ns string) *appsv1.StatefulSet {
	t.Helper()
	sts, err := cs.AppsV1().StatefulSets(ns).Get(context.Background(), "jenkins", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := sts.Status
	if st.ObservedGeneration != sts.Generation || st.UpdatedReplicas != 1 || st.ReadyReplicas != 1 || st.CurrentRevision != st.UpdateRevision {
		t.Fatalf("statefulset jenkins not rolled out: generation %d, status %+v", sts.Generation, st)
	}
	return sts
}

// jenkinsThroughService is the API of the controller behind the Service jenkins in ns, as the
// Secret jenkins-admin's user, once it answers.
func jenkinsThroughService(t testing.TB, cs kubernetes.Interface, ns string) jenkinsAPI {
	t.Helper()
	ctx := context.Background()
	sec, err := cs.CoreV1().Secrets(ns).Get(ctx, "jenkins-admin", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := cs.CoreV1().Services(ns).Get(ctx, "jenkins", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	api := jenkinsAPI{url: "http://" + svc.Spec.ClusterIP + ":8080", user: string(sec.Data["user"]), token: string(sec.Data["token"])}
	uptest.Eventually(t, 90*time.Second, "the controller answering through its Service", func() bool {
		code, _, err := api.do("GET", "/api/json", "", nil)
		return err == nil && code == http.StatusOK
	})
	return api
}

// hasJob reports whether the controller lists job (kept in its JENKINS_HOME).
func (j jenkinsAPI) hasJob(job string) bool {
	var root struct {
		Jobs []struct {
			Name string `json:"name"`
		} `json:"jobs"`
	}
	code, body, err := j.do("GET", "/api/json?tree=jobs[name]", "", nil)
	if err != nil || code != http.StatusOK || json.Unmarshal(body, &root) != nil {
		return false
	}
	for _, x := range root.Jobs {
		if x.Name == job {
			return true
		}
	}
	return false
}

func envOf(p *corev1.Pod, name string) string {
	for _, e := range p.Spec.Containers[0].Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// TestJenkinsChartWithHelm drives the real Helm CLI against `drover up` on Docker with the chart
// charts/jenkins (the fake Jenkins image standing in for jenkins/jenkins): `helm install --wait`
// brings the StatefulSet's pod up; `helm upgrade --wait` changing an env var replaces the pod
// (new uid, new env) with JENKINS_HOME kept (a job created before is still there, and a file
// written into the volume); `helm upgrade --atomic --wait --timeout 60s` with a missing image
// fails, rolls back, and the previous revision runs again, Ready, with its data.
func TestJenkinsChartWithHelm(t *testing.T) {
	helm := uptest.RequireHelm(t)
	uptest.CheckDocker(t, fakeJenkins)
	env := uptest.Start(t, uptest.Options{Name: "jhelm", Subnet: "10.66.0.0/16", ServiceCIDR: "10.76.0.0/16",
		ClusterDNS: "10.86.0.10", NodePortRange: "30400-30599"})
	cs := env.Client
	ctx := context.Background()
	home := t.TempDir()
	helmHome := t.TempDir()
	run := func(args ...string) (string, error) {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(cctx, helm, append([]string{"--kubeconfig", env.Kubeconfig, "-n", "ci"}, args...)...)
		cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(helmHome, "cache"),
			"HELM_CONFIG_HOME="+filepath.Join(helmHome, "config"), "HELM_DATA_HOME="+filepath.Join(helmHome, "data"))
		out, err := cmd.CombinedOutput()
		t.Logf("helm %s:\n%s", strings.Join(args, " "), out)
		return string(out), err
	}
	token := "11" + strings.Repeat("5a", 16)
	out, err := run("install", "jenkins", "../../charts/jenkins", "--create-namespace", "--wait", "--timeout", "3m",
		"--set", "createNamespace=false", "--set", "image="+fakeJenkins, "--set", "admin.password=pw-helm",
		"--set", "admin.token="+token, "--set", "volumePermissions=false", "--set", "livenessDelay=5",
		"--set", "persistence.hostPath="+home, "--set", "agent.image="+agentImage)
	if err != nil {
		t.Fatalf("helm install: %v\n%s", err, out)
	}
	sts1 := rolledOut(t, cs, "ci")
	pod1 := controllerPod(cs, "ci", fakeJenkins)
	if pod1 == nil {
		t.Fatal("helm install --wait returned before the controller pod was Ready")
	}
	claim, err := cs.CoreV1().PersistentVolumeClaims("ci").Get(ctx, "jenkins-home-jenkins-0", metav1.GetOptions{})
	if err != nil || claim.Status.Phase != corev1.ClaimBound || claim.Spec.VolumeName != "jenkins-home-ci" {
		t.Fatalf("the StatefulSet's claim: %v %+v", err, claim)
	}
	api := jenkinsThroughService(t, cs, "ci")
	api.createJob(t, "kept", "docker", "true")
	if err := os.WriteFile(filepath.Join(home, "written-before-upgrade"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	// An env var changes: the pod is replaced, JENKINS_HOME kept.
	out, err = run("upgrade", "jenkins", "../../charts/jenkins", "--reuse-values", "--wait", "--timeout", "3m", "--set", "javaOpts=-Ddrover.upgraded=1")
	if err != nil {
		t.Fatalf("helm upgrade: %v\n%s", err, out)
	}
	sts2 := rolledOut(t, cs, "ci")
	pod2 := controllerPod(cs, "ci", fakeJenkins)
	if pod2 == nil || pod2.UID == pod1.UID {
		t.Fatalf("helm upgrade --wait returned without a new Ready controller pod (old uid %s, new %+v)", pod1.UID, pod2)
	}
	if v := envOf(pod2, "JAVA_OPTS"); !strings.Contains(v, "-Ddrover.upgraded=1") {
		t.Errorf("the new pod's JAVA_OPTS = %q", v)
	}
	if sts2.Status.UpdateRevision == sts1.Status.UpdateRevision || pod2.Labels[appsv1.StatefulSetRevisionLabel] != sts2.Status.UpdateRevision {
		t.Errorf("revisions: before %s, after %s, pod %s", sts1.Status.UpdateRevision, sts2.Status.UpdateRevision, pod2.Labels[appsv1.StatefulSetRevisionLabel])
	}
	api = jenkinsThroughService(t, cs, "ci")
	if !api.hasJob("kept") {
		t.Error("the job created before the upgrade is gone: JENKINS_HOME was not kept")
	}
	if _, err := os.Stat(filepath.Join(home, "drover-fake-jenkins.json")); err != nil {
		t.Errorf("JENKINS_HOME on the volume: %v", err)
	}

	// A missing image with --atomic: the upgrade fails and is rolled back to revision 2.
	out, err = run("upgrade", "jenkins", "../../charts/jenkins", "--reuse-values", "--atomic", "--wait", "--timeout", "60s",
		"--set", "image=drover/missing-jenkins:1")
	if err == nil {
		t.Fatalf("helm upgrade --atomic with a missing image succeeded:\n%s", out)
	}
	if !strings.Contains(out, "rolled back") {
		t.Errorf("helm upgrade --atomic does not say it rolled back:\n%s", out)
	}
	hist, _ := run("history", "jenkins")
	if lines := strings.Split(strings.TrimSpace(hist), "\n"); len(lines) != 5 || !strings.Contains(lines[3], "failed") ||
		!strings.Contains(lines[4], "deployed") || !strings.Contains(lines[4], "Rollback to 2") {
		t.Errorf("helm history: want revisions 1-2 superseded, 3 failed, 4 deployed (rollback to 2):\n%s", hist)
	}
	sts4 := rolledOut(t, cs, "ci")
	if img := sts4.Spec.Template.Spec.Containers[0].Image; img != fakeJenkins {
		t.Errorf("after the rollback the StatefulSet runs %s", img)
	}
	pod4 := controllerPod(cs, "ci", fakeJenkins)
	if pod4 == nil || !strings.Contains(envOf(pod4, "JAVA_OPTS"), "-Ddrover.upgraded=1") {
		t.Fatalf("after the rollback no Ready pod of revision 2: %+v", pod4)
	}
	api = jenkinsThroughService(t, cs, "ci")
	if !api.hasJob("kept") {
		t.Error("the job is gone after the rollback")
	}
	if _, err := os.Stat(filepath.Join(home, "written-before-upgrade")); err != nil {
		t.Errorf("the file written into the volume: %v", err)
	}
}

// TestJenkinsInstallMigratesRCInstall: an install made with the previous chart (the controller
// as a ReplicationController, testdata/jenkins-rc.yaml) is migrated by `drover jenkins install`
// with JENKINS_HOME kept; `drover jenkins install --image` with another image then replaces
// the pod and waits for it; an image that does not exist makes install time out naming the
// pod's state and the newest Warning event; a good image again replaces the broken pod.
func TestJenkinsInstallMigratesRCInstall(t *testing.T) {
	uptest.CheckDocker(t, fakeJenkins, agentImage)
	env := uptest.Start(t, uptest.Options{Name: "jmig", Subnet: "10.67.0.0/16", ServiceCIDR: "10.77.0.0/16",
		ClusterDNS: "10.87.0.10", NodePortRange: "30200-30399"})
	cs := env.Client
	ctx := context.Background()
	home := t.TempDir()
	drover := func(args ...string) (string, error) {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(cctx, env.Drover, append([]string{"--kubeconfig", env.Kubeconfig}, args...)...).CombinedOutput()
		t.Logf("drover %s:\n%s", strings.Join(args, " "), out)
		return string(out), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := drover(args...)
		if err != nil {
			t.Fatalf("drover %s: %v", strings.Join(args, " "), err)
		}
		return out
	}

	// The old install: the RC chart's objects, the namespace and the Secret.
	fixture, err := os.ReadFile("testdata/jenkins-rc.yaml")
	if err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(t.TempDir(), "jenkins-rc.yaml")
	if err := os.WriteFile(manifest, []byte(strings.ReplaceAll(string(fixture), "HOSTPATH", home)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "jenkins"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	token := "11" + strings.Repeat("c3", 16)
	if _, err := cs.CoreV1().Secrets("jenkins").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "jenkins-admin"},
		Data: map[string][]byte{"user": []byte("admin"), "password": []byte("pw-old"), "token": []byte(token)}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	must("apply", "-f", manifest)
	uptest.Eventually(t, 2*time.Minute, "the RC's controller pod Running", func() bool {
		pods, err := cs.CoreV1().Pods("jenkins").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=jenkins"})
		return err == nil && len(pods.Items) == 1 && pods.Items[0].Status.Phase == corev1.PodRunning
	})
	api := jenkinsThroughService(t, cs, "jenkins")
	api.createJob(t, "from-the-rc", "docker", "true")
	if err := os.WriteFile(filepath.Join(home, "written-by-the-rc-install"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	// Migration.
	flags := []string{"--agent-image", agentImage, "--liveness-delay", "5", "--set", "persistence.hostPath=" + home,
		"--set", "volumePermissions=false", "--timeout", "3m"}
	out := must(append([]string{"jenkins", "install", "--image", fakeJenkins}, flags...)...)
	for _, w := range []string{"Migrating Jenkins in jenkins from the ReplicationController to a StatefulSet; JENKINS_HOME stays on persistentvolume/jenkins-home-jenkins",
		"replicationcontroller/jenkins deleted", "persistentvolumeclaim/jenkins-home-jenkins-0 created", "statefulset/jenkins created",
		"statefulset/jenkins rolled out", "Jenkins is up"} {
		if !strings.Contains(out, w) {
			t.Errorf("install output lacks %q", w)
		}
	}
	if _, err := cs.CoreV1().ReplicationControllers("jenkins").Get(ctx, "jenkins", metav1.GetOptions{}); err == nil {
		t.Error("the RC is still there")
	}
	rolledOut(t, cs, "jenkins")
	pod1 := controllerPod(cs, "jenkins", fakeJenkins)
	if pod1 == nil {
		t.Fatal("install returned before the StatefulSet's pod was Ready")
	}
	claim, err := cs.CoreV1().PersistentVolumeClaims("jenkins").Get(ctx, "jenkins-home-jenkins-0", metav1.GetOptions{})
	if err != nil || claim.Status.Phase != corev1.ClaimBound || claim.Spec.VolumeName != "jenkins-home-jenkins" {
		t.Fatalf("the StatefulSet's claim: %v %+v", err, claim)
	}
	api = jenkinsThroughService(t, cs, "jenkins")
	if !api.hasJob("from-the-rc") {
		t.Fatal("the job made under the RC is gone: JENKINS_HOME was not kept")
	}
	if _, err := os.Stat(filepath.Join(home, "written-by-the-rc-install")); err != nil {
		t.Error(err)
	}

	// A new image: the pod is replaced and install waits for the new one.
	next := "drover/fake-jenkins:1-next"
	if out, err := exec.Command("docker", "tag", fakeJenkins, next).CombinedOutput(); err != nil {
		t.Fatalf("docker tag: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", next).Run() })
	out = must(append([]string{"jenkins", "install", "--image", next}, flags...)...)
	if !strings.Contains(out, "statefulset/jenkins configured") || !strings.Contains(out, "statefulset/jenkins rolled out") {
		t.Errorf("install --image %s output lacks the update and its rollout", next)
	}
	rolledOut(t, cs, "jenkins")
	pod2 := controllerPod(cs, "jenkins", next)
	if pod2 == nil || pod2.UID == pod1.UID {
		t.Fatalf("install --image returned without a new Ready pod running %s", next)
	}
	if api = jenkinsThroughService(t, cs, "jenkins"); !api.hasJob("from-the-rc") {
		t.Error("the job is gone after the image update")
	}

	// An image that does not exist: install times out and says why.
	out, err = drover(append([]string{"jenkins", "install", "--image", "drover/missing-jenkins:1"}, append(flags, "--timeout", "40s")...)...)
	if err == nil {
		t.Fatal("install with a missing image succeeded")
	}
	if strings.Contains(out, "rate limiter") || strings.Contains(out, "context deadline") {
		t.Error("install's error is about its own client, not about Jenkins")
	}
	for _, w := range []string{"the Jenkins StatefulSet has not rolled out after 40s (last: statefulset/jenkins: 0 of 1 pods ready; pod jenkins-0: Pending (jenkins: ",
		"pod jenkins-0 container jenkins: waiting (", "newest warning event (pod jenkins-0): Failed: "} {
		if !strings.Contains(out, w) {
			t.Errorf("install's error lacks %q", w)
		}
	}
	if !strings.Contains(out, "ErrImagePull") && !strings.Contains(out, "ImagePullBackOff") {
		t.Error("install's error does not name the image pull failure")
	}
	// The good image again replaces the broken pod.
	must(append([]string{"jenkins", "install", "--image", fakeJenkins}, flags...)...)
	rolledOut(t, cs, "jenkins")
	if controllerPod(cs, "jenkins", fakeJenkins) == nil {
		t.Fatal("no Ready pod of the good image after the fix")
	}
	if api = jenkinsThroughService(t, cs, "jenkins"); !api.hasJob("from-the-rc") {
		t.Error("the job is gone after the failed update and its fix")
	}
}
