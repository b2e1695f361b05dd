package serviceaccount_test

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/internal/uptest"
)

// TestInClusterClientOnDocker: on `drover up` with a real Docker engine, a pod finds its
// token, CA and namespace in /var/run/secrets/kubernetes.io/serviceaccount and reaches the API
// server through the kubernetes Service: `drover get pods` in the pod (drover/tools:1; with no
// kubeconfig, client-go's loader takes rest.InClusterConfig()) lists the pods of its namespace.
// A pod with automountServiceAccountToken: false has no token file.
func TestInClusterClientOnDocker(t *testing.T) {
	// Listening on every address: pods reach the API server at the advertise address (the
	// bridge's gateway) through the kubernetes Service's cluster IP.
	env := uptest.Start(t, uptest.Options{Name: "sa", Subnet: "10.181.0.0/16", ServiceCIDR: "10.182.0.0/16",
		ClusterDNS: "10.182.0.10", NodePortRange: "32900-32949",
		Args: []string{"--listen", "0.0.0.0:0", "--advertise-address", "10.181.0.1"}})
	cs := env.Client
	ctx := t.Context()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ci"}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 30*time.Second, "the kubernetes Endpoints at the advertise address", func() bool {
		ep, err := cs.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		return err == nil && len(ep.Subsets) == 1 && ep.Subsets[0].Addresses[0].IP == "10.181.0.1"
	})
	run := func(name string, automount *bool, args ...string) *corev1.Pod {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever, AutomountServiceAccountToken: automount,
			Containers: []corev1.Container{{Name: "c", Image: "drover/tools:1", Command: append([]string{"/drover"}, args...)}}}}
		pod, err := cs.CoreV1().Pods("ci").Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		uptest.Eventually(t, 90*time.Second, "pod "+name+" finished", func() bool {
			p, err := cs.CoreV1().Pods("ci").Get(ctx, name, metav1.GetOptions{})
			if err == nil {
				pod = p
			}
			return err == nil && (p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed)
		})
		return pod
	}
	logs := func(name string) string {
		b, err := cs.CoreV1().Pods("ci").GetLogs(name, &corev1.PodLogOptions{}).DoRaw(ctx)
		if err != nil {
			t.Fatalf("logs of %s: %v", name, err)
		}
		return string(b)
	}
	// Authorization is on: the namespace's default ServiceAccount may not list pods until a
	// RoleBinding grants it.
	pod := run("denied", nil, "get", "pods")
	if out := logs("denied"); pod.Status.Phase != corev1.PodFailed || strings.Contains(out, "denied ") {
		t.Fatalf("the default ServiceAccount listed pods without a binding: %s\n%q", pod.Status.Phase, out)
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "pod-lister", Namespace: "ci"},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"list"}, APIGroups: []string{""}, Resources: []string{"pods"}}}}
	if _, err := cs.RbacV1().Roles("ci").Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "pod-lister", Namespace: "ci"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pod-lister"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "default", Namespace: "ci"}}}
	if _, err := cs.RbacV1().RoleBindings("ci").Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod = run("lister", nil, "get", "pods")
	out := logs("lister")
	if pod.Status.Phase != corev1.PodSucceeded || !strings.Contains(out, "lister") {
		t.Fatalf("the in-cluster client in the pod: %s\n%s\n%s", pod.Status.Phase, out, env.Log)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	t.Logf("pods in ci seen from inside: %d\n%s", len(lines)-1, out)
	if len(lines) != 3 {
		t.Errorf("want the header and 2 pods (denied, lister), got %q", out)
	}
	// Without the volume there is no token file: client-go finds no in-cluster config and
	// drover no kubeconfig.
	off := false
	pod = run("quiet", &off, "get", "pods")
	if out := logs("quiet"); pod.Status.Phase != corev1.PodFailed || strings.Contains(out, "quiet ") {
		t.Fatalf("without a token the pod listed pods: %s\n%s", pod.Status.Phase, out)
	}
	if len(pod.Spec.Volumes) != 0 {
		t.Fatalf("automount off: volumes %+v", pod.Spec.Volumes)
	}
}
