package apiserver_test

import (
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
)

// TestEphemeralContainersSubresource: pods/ephemeralcontainers adds an ephemeral container
// (defaults filled), changes nothing else of the pod, and refuses with Kubernetes' 422s what
// an ephemeral container may not have, a duplicate name, and removing or changing an existing
// one.
func TestEphemeralContainersSubresource(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	pod := newPod("p", map[string]string{"a": "1"})
	pod.Spec.AutomountServiceAccountToken = ptr.To(false)
	pods := cs.CoreV1().Pods("default")
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	add := `{"metadata":{"labels":{"a":"2"}},"spec":{"activeDeadlineSeconds":9,"ephemeralContainers":[{"name":"debugger","image":"busybox:1.36","stdin":true,"tty":true,"targetContainerName":"main"}]}}`
	got, err := pods.Patch(ctx, "p", types.StrategicMergePatchType, []byte(add), metav1.PatchOptions{}, "ephemeralcontainers")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Spec.EphemeralContainers) != 1 {
		t.Fatalf("ephemeral containers %+v", got.Spec.EphemeralContainers)
	}
	ec := got.Spec.EphemeralContainers[0]
	if ec.TerminationMessagePath != "/dev/termination-log" || ec.TerminationMessagePolicy != corev1.TerminationMessageReadFile || ec.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("ephemeral container defaults: %+v", ec)
	}
	if got.Labels["a"] != "1" || got.Spec.ActiveDeadlineSeconds != nil {
		t.Errorf("the ephemeralcontainers patch changed the pod: labels %v activeDeadlineSeconds %v", got.Labels, got.Spec.ActiveDeadlineSeconds)
	}
	var fetched corev1.Pod
	if err := cs.CoreV1().RESTClient().Get().Namespace("default").Resource("pods").Name("p").SubResource("ephemeralcontainers").
		Do(ctx).Into(&fetched); err != nil || len(fetched.Spec.EphemeralContainers) != 1 {
		t.Errorf("get pods/p/ephemeralcontainers: %v", err)
	}

	for _, tc := range []struct {
		name, patch string
		pt          types.PatchType
		want        []string
	}{
		{"forbidden fields", `{"spec":{"ephemeralContainers":[{"name":"bad","image":"busybox:1.36","ports":[{"containerPort":80}],"readinessProbe":{"exec":{"command":["true"]}},"resources":{"limits":{"cpu":"1"}}}]}}`,
			// A strategic merge patch puts new list items first.
			types.StrategicMergePatchType, []string{
				"spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container",
				"spec.ephemeralContainers[0].resources: Forbidden: cannot be set for an Ephemeral Container",
				"spec.ephemeralContainers[0].readinessProbe: Forbidden: cannot be set for an Ephemeral Container"}},
		{"duplicate name", `{"spec":{"ephemeralContainers":[{"name":"main","image":"busybox:1.36"}]}}`,
			types.StrategicMergePatchType, []string{`spec.ephemeralContainers[0].name: Duplicate value: "main"`}},
		{"unknown target", `{"spec":{"ephemeralContainers":[{"name":"dbg2","image":"busybox:1.36","targetContainerName":"nope"}]}}`,
			types.StrategicMergePatchType, []string{`spec.ephemeralContainers[0].targetContainerName: Not found: "nope"`}},
		{"removed", `{"spec":{"ephemeralContainers":null}}`, types.MergePatchType,
			[]string{`spec.ephemeralContainers: Forbidden: existing ephemeral containers "debugger" may not be removed`}},
		{"changed", `[{"op":"replace","path":"/spec/ephemeralContainers/0/image","value":"busybox:1.37"}]`, types.JSONPatchType,
			[]string{`spec.ephemeralContainers: Forbidden: existing ephemeral containers "debugger" may not be changed`}},
	} {
		_, err := pods.Patch(ctx, "p", tc.pt, []byte(tc.patch), metav1.PatchOptions{}, "ephemeralcontainers")
		if !apierrors.IsInvalid(err) {
			t.Errorf("%s: %v, want 422", tc.name, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v lacks %q", tc.name, err, w)
			}
		}
	}
	// The main resource cannot add them.
	cur, _ := pods.Get(ctx, "p", metav1.GetOptions{})
	cur.Spec.EphemeralContainers = append(cur.Spec.EphemeralContainers, corev1.EphemeralContainer{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "sneaky", Image: "busybox:1.36"}})
	if _, err := pods.Update(ctx, cur, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("an update of the pod added an ephemeral container: %v", err)
	}
}

// TestKubectlDebugAddsEphemeralContainer: real kubectl 1.32's `debug` patches
// pods/ephemeralcontainers; the pod then carries the debug container (starting it is the node
// agent's).
func TestKubectlDebugAddsEphemeralContainer(t *testing.T) {
	t.Parallel()
	srv := apiservertest.Start(t)
	kubectl := kubectlFor(t, srv)
	cs := clientFor(t, srv.Config)
	ctx := testCtx(t)
	pod := newPod("web", nil)
	pod.Spec.AutomountServiceAccountToken = ptr.To(false)
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	out, err := kubectl("debug", "web", "--image=busybox:1.36", "--target=main", "-c", "dbg")
	if err != nil {
		t.Fatalf("kubectl debug: %v\n%s", err, out)
	}
	got, err := cs.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Spec.EphemeralContainers) != 1 || got.Spec.EphemeralContainers[0].Name != "dbg" ||
		got.Spec.EphemeralContainers[0].Image != "busybox:1.36" || got.Spec.EphemeralContainers[0].TargetContainerName != "main" {
		t.Errorf("after kubectl debug: %+v\n%s", got.Spec.EphemeralContainers, out)
	}
	// A second one with a container's name is refused with the server's 422.
	out, err = kubectl("debug", "web", "--image=busybox:1.36", "-c", "main")
	if err == nil || !regexp.MustCompile(`Duplicate value: "main"`).MatchString(out) {
		t.Errorf("a debug container named as the app container: %v\n%s", err, out)
	}
}
