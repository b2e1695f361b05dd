package e2e_test

import (
	"context"
	"fmt"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/agents/render"
	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest"
	"github.com/drover-ci/drover/internal/uptest"
)

// inclusterImage runs internal/incluster: one line per round with the HTTP status of listing
// the pods of its namespace and getting a Secret through rest.InClusterConfig(), and of the
// same list without a credential.
const inclusterImage = "drover/incluster-test:1"

// saDir is where Kubernetes mounts a pod's token, CA and namespace.
const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// round is one line of internal/incluster's output.
type round map[string]string

// rounds parses the lines of internal/incluster's output in pod ns/name's log.
func rounds(ctx context.Context, cs kubernetes.Interface, ns, name, container string) []round {
	b, err := cs.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{Container: container}).DoRaw(ctx)
	if err != nil {
		return nil
	}
	var out []round
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "round=") {
			continue
		}
		r := round{}
		for _, f := range strings.Fields(line) {
			if k, v, ok := strings.Cut(f, "="); ok {
				r[k] = v
			}
		}
		out = append(out, r)
	}
	return out
}

// waitRound waits for a round of pod ns/name that satisfies ok and returns it; the failure
// shows the last round seen.
func waitRound(t *testing.T, cs kubernetes.Interface, ns, name, container string, d time.Duration, what string, ok func(round) bool) round {
	t.Helper()
	var last, found round
	defer func() {
		if t.Failed() {
			t.Logf("%s/%s: last round seen: %v", ns, name, last)
		}
	}()
	uptest.Eventually(t, d, fmt.Sprintf("%s/%s: %s", ns, name, what), func() bool {
		rs := rounds(context.Background(), cs, ns, name, container)
		for _, r := range rs {
			if ok(r) {
				found = r
				return true
			}
		}
		if len(rs) > 0 {
			last = rs[len(rs)-1]
		}
		return false
	})
	return found
}

// refused: the API server answered an unauthenticated request 401, or 403 to the anonymous user.
func refused(code string) bool { return code == "401" || code == "403" }

// inclusterPod is a pod running internal/incluster every second in ns with extra args.
func inclusterPod(name string, automount *bool, args ...string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever, AutomountServiceAccountToken: automount,
		Containers: []corev1.Container{{Name: "c", Image: inclusterImage, Args: append([]string{"--interval", "1s"}, args...)}}}}
}

// TestInPodClientOnDocker runs the in-pod checks of issue 14 on `drover up` with a real Docker
// engine, the API server listening on every address and advertised at the host's default-route
// address (drover up's default): pods reach it through the kubernetes Service with
// rest.InClusterConfig(); a ServiceAccount token lists no pods (403) until a RoleBinding grants
// view, and never reads a Secret through it; automountServiceAccountToken: false leaves no token
// file; a pod's token file is replaced before it expires and the long-lived client picks the
// new one up. The rotation part waits for the volume's refresh at 80 % of the shortest token
// lifetime Kubernetes allows (600 s): about 8 minutes.
func TestInPodClientOnDocker(t *testing.T) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		uptest.RequireE2E(t, "kubectl not found")
	}
	env := uptest.Start(t, uptest.Options{Name: "incluster", Subnet: "10.207.0.0/16", ServiceCIDR: "10.208.0.0/16",
		ClusterDNS: "10.208.0.10", NodePortRange: "30600-30649", Images: []string{inclusterImage},
		Args: []string{"--listen", "0.0.0.0:0"}})
	cs := env.Client
	ctx := context.Background()
	kubectl := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("kubectl", append([]string{"--kubeconfig", env.Kubeconfig}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	kubectl("create", "namespace", "ci")
	kubectl("-n", "ci", "create", "secret", "generic", "build-creds", "--from-literal=password=not-for-builds")
	uptest.Eventually(t, 30*time.Second, "the default ServiceAccount of ci", func() bool {
		_, err := cs.CoreV1().ServiceAccounts("ci").Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	})

	// reader runs with the default ServiceAccount and a token volume of the shortest lifetime
	// Kubernetes allows, mounted where Kubernetes mounts kube-api-access.
	short := int64(600)
	reader := inclusterPod("reader", ptr(false), "--secret", "build-creds")
	reader.Spec.Volumes = []corev1.Volume{{Name: "short-token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: &short}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace",
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		}}}}}
	reader.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "short-token", MountPath: saDir, ReadOnly: true}}
	quiet := inclusterPod("quiet", ptr(false), "--secret", "build-creds", "--namespace", "ci")
	plain := inclusterPod("plain", nil, "--secret", "build-creds")
	for _, p := range []*corev1.Pod{reader, quiet, plain} {
		if _, err := cs.CoreV1().Pods("ci").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create pod %s: %v", p.Name, err)
		}
	}
	started := time.Now()

	t.Run("KubernetesService", func(t *testing.T) {
		ep, err := cs.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		if err != nil || len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 1 {
			t.Fatalf("kubernetes Endpoints: %+v, %v", ep, err)
		}
		ip := ep.Subsets[0].Addresses[0].IP
		t.Logf("kubernetes Endpoints: %s:%d (the advertise address)", ip, ep.Subsets[0].Ports[0].Port)
		if strings.HasPrefix(ip, "127.") {
			t.Errorf("kubernetes Endpoints at loopback %s: pods cannot reach it", ip)
		}
		// Any HTTP answer to the in-cluster client is the API server's, reached through the
		// Service's cluster IP (KUBERNETES_SERVICE_HOST) and these Endpoints.
		r := waitRound(t, cs, "ci", "plain", "", 90*time.Second, "an answer through the kubernetes Service", func(r round) bool {
			return r["pods"] != "0" && r["anonymous"] != "0"
		})
		t.Logf("plain pod: %v", r)
		if r["token"] == "none" || r["auth"] == "none" {
			t.Errorf("the default pod has no token: %v", r)
		}
	})

	t.Run("NoTokenWithoutAutomount", func(t *testing.T) {
		p, err := cs.CoreV1().Pods("ci").Get(ctx, "quiet", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range p.Spec.Volumes {
			t.Errorf("automountServiceAccountToken: false, yet volume %+v", v)
		}
		r := waitRound(t, cs, "ci", "quiet", "", 90*time.Second, "a round", func(round) bool { return true })
		t.Logf("quiet pod: %v", r)
		if r["token"] != "none" || r["auth"] != "none" {
			t.Errorf("automountServiceAccountToken: false, yet a token file at %s/token or a credential sent: %v", saDir, r)
		}
		if !refused(r["pods"]) || !refused(r["secret"]) || !refused(r["create"]) || !refused(r["anonymous"]) {
			t.Errorf("a pod without a token reached the API: %v", r)
		}
	})

	t.Run("RoleBinding", func(t *testing.T) {
		r := waitRound(t, cs, "ci", "reader", "", 90*time.Second, "a round with the token", func(r round) bool {
			return r["auth"] != "none" && r["pods"] != "0"
		})
		t.Logf("before the RoleBinding: %v", r)
		if r["pods"] != "403" || r["secret"] != "403" || r["create"] != "403" {
			t.Fatalf("the default ServiceAccount without a binding: pods %s secret %s create %s, want 403 each", r["pods"], r["secret"], r["create"])
		}
		if !refused(r["anonymous"]) {
			t.Errorf("anonymous list of pods: %s", r["anonymous"])
		}
		kubectl("-n", "ci", "create", "rolebinding", "ci-view", "--clusterrole=view", "--serviceaccount=ci:default")
		r = waitRound(t, cs, "ci", "reader", "", 60*time.Second, "pods listed after the RoleBinding", func(r round) bool {
			return r["pods"] == "200"
		})
		t.Logf("after the RoleBinding: %v", r)
		if r["secret"] != "403" || r["create"] != "403" {
			t.Errorf("view must not read Secrets nor create pods: secret %s create %s", r["secret"], r["create"])
		}
		if !refused(r["anonymous"]) {
			t.Errorf("anonymous list of pods after the binding: %s", r["anonymous"])
		}
	})

	t.Run("TokenRotates", func(t *testing.T) {
		first := waitRound(t, cs, "ci", "reader", "", 90*time.Second, "a round with the token", func(r round) bool {
			return r["token"] != "none" && r["auth"] != "none"
		})
		// 80 % of 600 s after the token was issued the node agent requests a new one and
		// rewrites the file; client-go re-reads it within a minute.
		r := waitRound(t, cs, "ci", "reader", "", 12*time.Minute, "a new token in the file and in the client's requests", func(r round) bool {
			return r["token"] != first["token"] && r["auth"] != first["auth"] && r["auth"] != "none"
		})
		t.Logf("token rotated after %s: %v → %v", time.Since(started).Round(time.Second), first, r)
		if r["pods"] == "401" {
			t.Errorf("the rotated token is refused: %v", r)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// TestJenkinsAgentsWithoutPowerOnDocker: agent pods launched by the Jenkins cloud for a default
// template have no token and cannot read the Secret holding the Jenkins API token, nor list or
// create pods, nor reach the API unauthenticated; a template that asks for the token of the
// namespace's default ServiceAccount (no bindings) gets 403 for each.
func TestJenkinsAgentsWithoutPowerOnDocker(t *testing.T) {
	uptest.CheckDocker(t, inclusterImage)
	fake, err := jenkinstest.Start(jenkinstest.Options{Addr: "0.0.0.0:0", AutoStart: true,
		Users: []jenkinstest.User{{Name: "drover", Token: token}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	u, err := url.Parse(fake.URL())
	if err != nil {
		t.Fatal(err)
	}
	// The agents run internal/incluster instead of an agent: they never connect, and stay
	// within connectTimeout while the test reads their logs.
	tmpl := func(name, extra string) string {
		return fmt.Sprintf(`- name: %[1]s
  label: %[1]s
  image: %[2]s
  args: [--secret, jenkins-api, --namespace, default, --interval, 1s]
  connectTimeout: 10m
%[3]s`, name, inclusterImage, extra)
	}
	cfg := writeConfig(t, fmt.Sprintf(`url: http://127.0.0.1:%s
credentials: {secret: jenkins-api}
jenkinsUrl: http://10.48.0.1:%s/
namespace: default
templates:
%s%s`, u.Port(), u.Port(), tmpl("plain", ""), tmpl("tokened", "  automountServiceAccountToken: true\n")))
	env := uptest.Start(t, uptest.Options{Name: "jpower", Subnet: "10.48.0.0/16", ServiceCIDR: "10.58.0.0/16",
		ClusterDNS: "10.58.0.10", NodePortRange: "30650-30699", Args: []string{"--config", cfg, "--listen", "0.0.0.0:0"}})
	cs := env.Client
	ctx := context.Background()
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "jenkins-api"},
		StringData: map[string]string{"user": "drover", "token": token}}
	if _, err := cs.CoreV1().Secrets("default").Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	api := jenkinsAPI{url: fake.URL(), user: "drover", token: token}
	for _, label := range []string{"plain", "tokened"} {
		api.createJob(t, "job-"+label, label, "true")
		api.build(t, "job-"+label)
	}
	agent := func(template string) corev1.Pod {
		var pod corev1.Pod
		uptest.Eventually(t, 90*time.Second, "an agent pod of template "+template, func() bool {
			pods := agentPods(t, cs, "default", template)
			if len(pods) > 0 {
				pod = pods[0]
			}
			return len(pods) > 0
		})
		return pod
	}

	p := agent("plain")
	if a := p.Spec.AutomountServiceAccountToken; p.Spec.ServiceAccountName != "default" || a == nil || *a {
		t.Errorf("default template's pod: serviceAccountName %q automountServiceAccountToken %v", p.Spec.ServiceAccountName, a)
	}
	r := waitRound(t, cs, "default", p.Name, render.AgentContainer, 90*time.Second, "a round", func(r round) bool {
		return r["anonymous"] != "0"
	})
	t.Logf("agent of the default template: %v", r)
	if r["token"] != "none" || r["auth"] != "none" {
		t.Errorf("the default template's agent has a token: %v", r)
	}
	if !refused(r["secret"]) || !refused(r["pods"]) || !refused(r["create"]) || !refused(r["anonymous"]) {
		t.Errorf("the default template's agent reached the API (want 401 or 403 each): %v", r)
	}

	p = agent("tokened")
	r = waitRound(t, cs, "default", p.Name, render.AgentContainer, 90*time.Second, "a round with the token", func(r round) bool {
		return r["auth"] != "none" && r["pods"] != "0"
	})
	t.Logf("agent of the template asking for the token: %v", r)
	if r["secret"] != "403" || r["pods"] != "403" || r["create"] != "403" {
		t.Errorf("the default ServiceAccount's token read the Jenkins API token Secret, listed or created pods (want 403 each): %v", r)
	}
}
