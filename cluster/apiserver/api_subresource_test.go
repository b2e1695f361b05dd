package apiserver_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestStatusSubresourceKeepsSpecAndMainKeepsStatus(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	pods := cs.CoreV1().Pods("default")
	pod, err := pods.Create(ctx, newPod("st", map[string]string{"a": "1"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pod.Status.Phase != corev1.PodPending {
		t.Errorf("new pod phase %q, want Pending", pod.Status.Phase)
	}
	// Status update: the spec it carries is ignored, its labels apply (as in Kubernetes).
	s := pod.DeepCopy()
	s.Status.Phase = corev1.PodRunning
	s.Status.Message = "running"
	s.Spec.Containers[0].Image = "changed:1"
	s.Labels["a"] = "2"
	s, err = pods.UpdateStatus(ctx, s, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update status: %v", err)
	}
	if s.Status.Phase != corev1.PodRunning || s.Spec.Containers[0].Image != "busybox:1.36" || s.Labels["a"] != "2" {
		t.Errorf("status update: phase %q image %q label %q", s.Status.Phase, s.Spec.Containers[0].Image, s.Labels["a"])
	}
	if s.Generation != 1 {
		t.Errorf("status update changed generation to %d", s.Generation)
	}
	// Main update: the status it carries is ignored.
	m := s.DeepCopy()
	m.Status.Phase = corev1.PodFailed
	m.Labels["a"] = "3"
	m, err = pods.Update(ctx, m, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	got, _ := pods.Get(ctx, "st", metav1.GetOptions{})
	if got.Status.Phase != corev1.PodRunning || got.Status.Message != "running" || got.Labels["a"] != "3" {
		t.Errorf("main update: phase %q message %q label %q", got.Status.Phase, got.Status.Message, got.Labels["a"])
	}
	if m.ResourceVersion != got.ResourceVersion {
		t.Errorf("update answer rv %s, stored %s", m.ResourceVersion, got.ResourceVersion)
	}
}

func TestScaleSubresource(t *testing.T) {
	t.Parallel()
	srv, cs := startClient(t)
	ctx := testCtx(t)
	rcs := cs.CoreV1().ReplicationControllers("default")
	if _, err := rcs.Create(ctx, newRC("sc", 1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sc, err := rcs.GetScale(ctx, "sc", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get scale: %v", err)
	}
	if sc.Spec.Replicas != 1 || sc.Status.Selector != "app=sc" || sc.Name != "sc" {
		t.Errorf("scale = %+v", sc)
	}
	stale := sc.DeepCopy()
	sc.Spec.Replicas = 4
	sc, err = rcs.UpdateScale(ctx, "sc", sc, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update scale: %v", err)
	}
	if sc.Spec.Replicas != 4 {
		t.Errorf("scale answer replicas %d", sc.Spec.Replicas)
	}
	rc, _ := rcs.Get(ctx, "sc", metav1.GetOptions{})
	if *rc.Spec.Replicas != 4 || rc.Generation != 2 || rc.ResourceVersion != sc.ResourceVersion {
		t.Errorf("rc after scale: replicas %d generation %d rv %s (scale rv %s)", *rc.Spec.Replicas, rc.Generation, rc.ResourceVersion, sc.ResourceVersion)
	}

	stale.Spec.Replicas = 9
	_, err = rcs.UpdateScale(ctx, "sc", stale, metav1.UpdateOptions{})
	wantStatus(t, "scale with stale resourceVersion", err, 409)

	r := doRaw(t, srv, http.MethodPatch, "/api/v1/namespaces/default/replicationcontrollers/sc/scale",
		string(types.MergePatchType), []byte(`{"spec":{"replicas":2}}`))
	if r.code != http.StatusOK {
		t.Fatalf("merge-patch scale: %d %s", r.code, r.body)
	}
	rc, _ = rcs.Get(ctx, "sc", metav1.GetOptions{})
	if *rc.Spec.Replicas != 2 {
		t.Errorf("replicas after patch = %d, want 2", *rc.Spec.Replicas)
	}
	neg := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "sc", Namespace: "default"}, Spec: autoscalingv1.ScaleSpec{Replicas: -1}}
	_, err = rcs.UpdateScale(ctx, "sc", neg, metav1.UpdateOptions{})
	wantStatus(t, "negative replicas", err, 422)
	_, err = rcs.GetScale(ctx, "missing", metav1.GetOptions{})
	wantStatus(t, "scale of a missing rc", err, 404)
}

func TestBinding(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	pods := cs.CoreV1().Pods("default")
	pod, err := pods.Create(ctx, newPod("b", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bind := func(node string) error {
		return pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "b", UID: pod.UID},
			Target: corev1.ObjectReference{Kind: "Node", Name: node}}, metav1.CreateOptions{})
	}
	if err := bind("node-1"); err != nil {
		t.Fatalf("bind: %v", err)
	}
	got, _ := pods.Get(ctx, "b", metav1.GetOptions{})
	if got.Spec.NodeName != "node-1" {
		t.Errorf("nodeName = %q", got.Spec.NodeName)
	}
	scheduled := false
	for _, c := range got.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionTrue {
			scheduled = true
		}
	}
	if !scheduled {
		t.Errorf("no PodScheduled=True condition: %+v", got.Status.Conditions)
	}
	err = bind("node-2")
	wantStatus(t, "second binding", err, 409)
	got, _ = pods.Get(ctx, "b", metav1.GetOptions{})
	if got.Spec.NodeName != "node-1" {
		t.Errorf("second binding moved the pod to %q", got.Spec.NodeName)
	}
	// spec.nodeName cannot be changed by a plain update either.
	got.Spec.NodeName = "node-3"
	if upd, err := pods.Update(ctx, got, metav1.UpdateOptions{}); err == nil && upd.Spec.NodeName != "node-1" {
		t.Errorf("update moved the pod to %q", upd.Spec.NodeName)
	}
	err = pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "nope"}, Target: corev1.ObjectReference{Name: "n"}}, metav1.CreateOptions{})
	wantStatus(t, "binding a missing pod", err, 404)
}

func TestPatchPodLabels(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	pods := cs.CoreV1().Pods("default")
	if _, err := pods.Create(ctx, newPod("pl", map[string]string{"keep": "1", "drop": "1"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		pt    types.PatchType
		patch string
		want  map[string]string
	}{
		{types.JSONPatchType, `[{"op":"add","path":"/metadata/labels/j","value":"x"},{"op":"remove","path":"/metadata/labels/drop"}]`,
			map[string]string{"keep": "1", "j": "x"}},
		{types.MergePatchType, `{"metadata":{"labels":{"m":"y","j":null}}}`, map[string]string{"keep": "1", "m": "y"}},
		{types.StrategicMergePatchType, `{"metadata":{"labels":{"s":"z","keep":"2"}}}`, map[string]string{"keep": "2", "m": "y", "s": "z"}},
	}
	for _, st := range steps {
		got, err := pods.Patch(ctx, "pl", st.pt, []byte(st.patch), metav1.PatchOptions{})
		if err != nil {
			t.Fatalf("%s: %v", st.pt, err)
		}
		if diff := cmp.Diff(st.want, got.Labels); diff != "" {
			t.Errorf("%s labels (-want +got):\n%s", st.pt, diff)
		}
	}
	_, err := pods.Patch(ctx, "pl", types.JSONPatchType, []byte(`[{"op":"test","path":"/metadata/labels/keep","value":"no"}]`), metav1.PatchOptions{})
	if err == nil {
		t.Errorf("failing json-patch test op succeeded")
	}
	_, err = pods.Patch(ctx, "pl", types.MergePatchType, []byte(`{"spec":{"containers":[{"name":"main"}]}}`), metav1.PatchOptions{})
	wantStatus(t, "merge patch dropping the image", err, 422)
	_, err = pods.Patch(ctx, "missing", types.MergePatchType, []byte(`{}`), metav1.PatchOptions{})
	wantStatus(t, "patch of a missing pod", err, 404)
}

func TestPatchRCContainers(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	rcs := cs.CoreV1().ReplicationControllers("default")
	if _, err := rcs.Create(ctx, newRC("pc", 1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	images := func(rc *corev1.ReplicationController) []string {
		var out []string
		for _, c := range rc.Spec.Template.Spec.Containers {
			out = append(out, c.Name+"="+c.Image)
		}
		return out
	}
	// Strategic merge: containers merge by name.
	rc, err := rcs.Patch(ctx, "pc", types.StrategicMergePatchType,
		[]byte(`{"spec":{"template":{"spec":{"containers":[{"name":"b","image":"redis:8"}]}}}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("strategic merge patch: %v", err)
	}
	if diff := cmp.Diff([]string{"a=nginx:1.25", "b=redis:8"}, images(rc)); diff != "" {
		t.Errorf("after strategic merge (-want +got):\n%s", diff)
	}
	if rc.Generation != 2 {
		t.Errorf("generation after template change = %d, want 2", rc.Generation)
	}
	// JSON patch: index addressing.
	rc, err = rcs.Patch(ctx, "pc", types.JSONPatchType,
		[]byte(`[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx:1.27"}]`), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("json patch: %v", err)
	}
	if diff := cmp.Diff([]string{"a=nginx:1.27", "b=redis:8"}, images(rc)); diff != "" {
		t.Errorf("after json patch (-want +got):\n%s", diff)
	}
	// Merge patch: lists are replaced whole.
	rc, err = rcs.Patch(ctx, "pc", types.MergePatchType,
		[]byte(`{"spec":{"template":{"spec":{"containers":[{"name":"only","image":"alpine:3"}]}}}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("merge patch: %v", err)
	}
	if diff := cmp.Diff([]string{"only=alpine:3"}, images(rc)); diff != "" {
		t.Errorf("after merge patch (-want +got):\n%s", diff)
	}
	// Defaults apply to patched containers too.
	if c := rc.Spec.Template.Spec.Containers[0]; c.TerminationMessagePath == "" || c.ImagePullPolicy == "" {
		t.Errorf("patched container not defaulted: %+v", c)
	}
	// A patch with a stale resourceVersion in it is a conflict.
	stale := fmt.Sprintf(`{"metadata":{"resourceVersion":"%d"},"spec":{"replicas":5}}`, rv(t, rc.ResourceVersion)-1)
	_, err = rcs.Patch(ctx, "pc", types.MergePatchType, []byte(stale), metav1.PatchOptions{})
	if !apierrors.IsConflict(err) {
		t.Errorf("patch with stale resourceVersion: %v, want Conflict", err)
	}
}
