package apiserver_test

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
)

// Pod Security Admission beyond creation, as upstream: tightening a namespace's enforce level
// warns about its existing pods; a pod update that changes what the standards look at (an
// image) is evaluated and refused, one that does not (labels) is not; an exempt namespace is
// never evaluated; a workload in a warn=restricted namespace gets the warning; invalid labels
// are refused.
func TestPodSecurityUpdatesNamespacesAndExemptions(t *testing.T) {
	srv := apiservertest.StartConfig(t, apiserver.RunConfig{
		PodSecurityExemptions: apiserver.PodSecurityExemptions{Namespaces: []string{"exempt"}}})
	rec := &warningRecorder{}
	cfg := rest.CopyConfig(srv.Config)
	cfg.WarningHandler = rec
	cs := clientFor(t, cfg)
	ctx := testCtx(t)
	mkns := func(name string, labels map[string]string) {
		t.Helper()
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mkns("lab", nil)
	if _, err := cs.CoreV1().Pods("lab").Create(ctx, privilegedPod("priv"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("privileged namespace refused: %v", err)
	}

	// Tightening enforce: allowed, with warnings naming the pods that would violate it.
	rec.take()
	ns, err := cs.CoreV1().Namespaces().Get(ctx, "lab", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ns.Labels = map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}
	if _, err := cs.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("label update: %v", err)
	}
	got := rec.take()
	if len(got) != 2 || got[0] != `existing pods in namespace "lab" violate the new PodSecurity enforce level "restricted:latest"` ||
		!strings.HasPrefix(got[1], "priv: privileged, allowPrivilegeEscalation != false, unrestricted capabilities") {
		t.Errorf("namespace label warnings = %q", got)
	}

	// A label change of the pod is not significant; an image change is, and is refused.
	p, err := cs.CoreV1().Pods("lab").Get(ctx, "priv", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Labels = map[string]string{"touched": "yes"}
	if p, err = cs.CoreV1().Pods("lab").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("label-only update refused: %v", err)
	}
	p.Spec.Containers[0].Image = "busybox:1.37"
	_, err = cs.CoreV1().Pods("lab").Update(ctx, p, metav1.UpdateOptions{})
	if want := `pods "priv" is forbidden: ` + restrictedPrivileged; !apierrors.IsForbidden(err) || err.Error() != want {
		t.Errorf("image update in a restricted namespace: %v\nwant 403 %s", err, want)
	}
	if p, _ := cs.CoreV1().Pods("lab").Get(ctx, "priv", metav1.GetOptions{}); p.Spec.Containers[0].Image != "busybox:1.36" {
		t.Errorf("refused update stored: image %s", p.Spec.Containers[0].Image)
	}

	// An exempt namespace: its labels are ignored (with upstream's warning), its pods admitted.
	rec.take()
	mkns("exempt", map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
	if got := rec.take(); len(got) != 1 || !strings.Contains(got[0], `namespace "exempt" is exempt from Pod Security`) {
		t.Errorf("exempt namespace warnings = %q", got)
	}
	if _, err := cs.CoreV1().Pods("exempt").Create(ctx, privilegedPod("priv"), metav1.CreateOptions{}); err != nil {
		t.Errorf("exempt namespace refused a privileged pod: %v", err)
	}

	// A Deployment with a privileged template where only warn is restricted: admitted, warned.
	mkns("warned", map[string]string{"pod-security.kubernetes.io/warn": "restricted"})
	rec.take()
	pod := privilegedPod("")
	replicas := int32(0)
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: appsv1.DeploymentSpec{Replicas: &replicas,
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: pod.Spec}}}
	if _, err := cs.AppsV1().Deployments("warned").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("deployment refused: %v", err)
	}
	if got, want := rec.take(), "would violate PodSecurity \"restricted:latest\": "+restrictedPrivileged[len(`violates PodSecurity "restricted:latest": `):]; len(got) != 1 || got[0] != want {
		t.Errorf("deployment warnings %q, want [%q]", got, want)
	}

	// Invalid labels are refused on create.
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "typo",
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restrictd"}}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), `metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "restrictd"`) {
		t.Errorf("invalid level label: %v", err)
	}
}

// Exempt users and runtime classes are never evaluated either.
func TestPodSecurityExemptUsersAndRuntimeClasses(t *testing.T) {
	strict := map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}
	srv := apiservertest.StartConfig(t, apiserver.RunConfig{
		PodSecurityExemptions: apiserver.PodSecurityExemptions{RuntimeClasses: []string{"trusted"}}})
	cs := clientFor(t, srv.Config)
	ctx := testCtx(t)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "strict", Labels: strict}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.NodeV1().RuntimeClasses().Create(ctx, &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "trusted"}, Handler: "runc"}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Pods("strict").Create(ctx, privilegedPod("plain"), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("privileged pod without the exempt class: %v, want 403", err)
	}
	p := privilegedPod("trusted")
	p.Spec.RuntimeClassName = ptr.To("trusted")
	if _, err := cs.CoreV1().Pods("strict").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Errorf("exempt runtime class refused: %v", err)
	}

	// The admin ("admin") exempt: its privileged pod is admitted in a restricted namespace.
	srv2 := apiservertest.StartConfig(t, apiserver.RunConfig{
		PodSecurityExemptions: apiserver.PodSecurityExemptions{Usernames: []string{"admin"}}})
	cs2 := clientFor(t, srv2.Config)
	if _, err := cs2.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "strict", Labels: strict}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs2.CoreV1().Pods("strict").Create(ctx, privilegedPod("priv"), metav1.CreateOptions{}); err != nil {
		t.Errorf("exempt user refused: %v", err)
	}
}
