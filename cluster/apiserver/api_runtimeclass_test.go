package apiserver_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestRuntimeClassAdmission: a pod naming an unknown RuntimeClass is refused with Kubernetes'
// 403; one naming a known class gets its overhead, node selector and tolerations merged in; an
// overhead the class does not define, or a conflicting node selector, is refused.
func TestRuntimeClassAdmission(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	newPod := func(name string, mutate func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{AutomountServiceAccountToken: ptr.To(false), Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}}}
		mutate(p)
		return p
	}
	pods := cs.CoreV1().Pods("default")

	_, err := pods.Create(ctx, newPod("unknown", func(p *corev1.Pod) { p.Spec.RuntimeClassName = ptr.To("nope") }), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || err.Error() != `pods "unknown" is forbidden: pod rejected: RuntimeClass "nope" not found` {
		t.Fatalf("unknown runtime class: %v", err)
	}

	rc := &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "sandboxed"}, Handler: "runc",
		Overhead: &nodev1.Overhead{PodFixed: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("120Mi")}},
		Scheduling: &nodev1.Scheduling{NodeSelector: map[string]string{"sandbox": "true"},
			Tolerations: []corev1.Toleration{{Key: "sandbox", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}}}
	if _, err := cs.NodeV1().RuntimeClasses().Create(ctx, rc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := pods.Create(ctx, newPod("ok", func(p *corev1.Pod) {
		p.Spec.RuntimeClassName = ptr.To("sandboxed")
		p.Spec.NodeSelector = map[string]string{"disk": "ssd"}
		p.Spec.Tolerations = []corev1.Toleration{{Key: "sandbox", Operator: corev1.TolerationOpEqual, Value: "x", Effect: corev1.TaintEffectNoSchedule}}
	}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !apiEqualResources(got.Spec.Overhead, rc.Overhead.PodFixed) {
		t.Errorf("overhead %v, want %v", got.Spec.Overhead, rc.Overhead.PodFixed)
	}
	if diff := cmp.Diff(map[string]string{"disk": "ssd", "sandbox": "true"}, got.Spec.NodeSelector); diff != "" {
		t.Errorf("node selector (-want +got):\n%s", diff)
	}
	// The class's Exists toleration covers the pod's Equal one: only it is kept.
	if len(got.Spec.Tolerations) != 1 || got.Spec.Tolerations[0].Operator != corev1.TolerationOpExists {
		t.Errorf("tolerations %+v", got.Spec.Tolerations)
	}

	for name, tc := range map[string]struct {
		mutate func(*corev1.Pod)
		want   string
	}{
		"overhead-without-class": {func(p *corev1.Pod) {
			p.Spec.Overhead = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
		},
			"pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead"},
		"other-overhead": {func(p *corev1.Pod) {
			p.Spec.RuntimeClassName = ptr.To("sandboxed")
			p.Spec.Overhead = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
		}, "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead"},
		"selector-conflict": {func(p *corev1.Pod) {
			p.Spec.RuntimeClassName = ptr.To("sandboxed")
			p.Spec.NodeSelector = map[string]string{"sandbox": "false"}
		}, "conflict: runtimeClass.scheduling.nodeSelector[sandbox] = true; pod.spec.nodeSelector[sandbox] = false"},
	} {
		_, err := pods.Create(ctx, newPod(name, tc.mutate), metav1.CreateOptions{})
		if !apierrors.IsForbidden(err) || !strings.HasSuffix(err.Error(), tc.want) {
			t.Errorf("%s: %v, want 403 ending %q", name, err, tc.want)
		}
	}
}

func apiEqualResources(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || v.Cmp(w) != 0 {
			return false
		}
	}
	return true
}
