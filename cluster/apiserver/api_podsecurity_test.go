package apiserver_test

import (
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
)

type warningRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warningRecorder) HandleWarningHeader(code int, agent, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, text)
}

func (w *warningRecorder) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.msgs
	w.msgs = nil
	return m
}

func privilegedPod(name string) *corev1.Pod {
	yes := true
	p := newPod(name, nil)
	p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: &yes}
	return p
}

const restrictedPrivileged = `violates PodSecurity "restricted:latest": privileged (container "main" must not set securityContext.privileged=true), allowPrivilegeEscalation != false (container "main" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "main" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "main" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "main" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`

// Pod Security Admission: a namespace labelled enforce=restricted refuses a privileged pod
// with Kubernetes' message; warn=baseline warns (Warning header) and admits; a Deployment's
// template that violates enforce is admitted with a warning, as upstream; the cluster default
// (--pod-security-default) holds unlabelled namespaces.
func TestPodSecurityAdmission(t *testing.T) {
	srv := apiservertest.StartConfig(t, apiserver.RunConfig{PodSecurityDefault: "baseline"})
	rec := &warningRecorder{}
	cfg := rest.CopyConfig(srv.Config)
	cfg.WarningHandler = rec
	cs := clientFor(t, cfg)
	ctx := testCtx(t)
	for name, labels := range map[string]map[string]string{
		"strict": {"pod-security.kubernetes.io/enforce": "restricted"},
		"warned": {"pod-security.kubernetes.io/enforce": "privileged", "pod-security.kubernetes.io/warn": "baseline", "pod-security.kubernetes.io/warn-version": "v1.32"},
	} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	_, err := cs.CoreV1().Pods("strict").Create(ctx, privilegedPod("priv"), metav1.CreateOptions{})
	if want := `pods "priv" is forbidden: ` + restrictedPrivileged; !apierrors.IsForbidden(err) || err.Error() != want {
		t.Errorf("restricted namespace, privileged pod: %v\nwant 403 %s", err, want)
	}
	if _, err := cs.CoreV1().Pods("strict").Get(ctx, "priv", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the refused pod was stored: %v", err)
	}

	// The cluster default (baseline) holds the unlabelled default namespace.
	_, err = cs.CoreV1().Pods("default").Create(ctx, privilegedPod("priv"), metav1.CreateOptions{})
	if want := `pods "priv" is forbidden: violates PodSecurity "baseline:latest": privileged (container "main" must not set securityContext.privileged=true)`; err == nil || err.Error() != want {
		t.Errorf("default namespace (cluster default baseline): %v\nwant %s", err, want)
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, newPod("plain", nil), metav1.CreateOptions{}); err != nil {
		t.Errorf("baseline refused a plain pod: %v", err)
	}

	rec.take()
	if _, err := cs.CoreV1().Pods("warned").Create(ctx, privilegedPod("priv"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("warn-only namespace refused: %v", err)
	}
	want := `would violate PodSecurity "baseline:v1.32": privileged (container "main" must not set securityContext.privileged=true)`
	if got := rec.take(); len(got) != 1 || got[0] != want {
		t.Errorf("warnings %q, want [%q]", got, want)
	}

	// A workload is never refused for its template: a warning instead.
	pod := privilegedPod("")
	replicas := int32(0)
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: appsv1.DeploymentSpec{Replicas: &replicas,
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: pod.Spec}}}
	if _, err := cs.AppsV1().Deployments("strict").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("deployment refused: %v", err)
	}
	if got, want := rec.take(), "would violate PodSecurity \"restricted:latest\": "+restrictedPrivileged[len(`violates PodSecurity "restricted:latest": `):]; len(got) != 1 || got[0] != want {
		t.Errorf("deployment warnings %q, want [%q]", got, want)
	}
}
