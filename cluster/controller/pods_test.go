package controller

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	testingclock "k8s.io/utils/clock/testing"
)

func testPod(name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}}
}

// TestDeletePods: a pod deleted is still expected (its informer event will come); one already
// gone and one whose delete failed are not; each outcome is an event of the owner and the
// failure is in the result.
func TestDeletePods(t *testing.T) {
	client := fake.NewSimpleClientset(testPod("ok"), testPod("broken"))
	boom := errors.New("boom")
	client.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.DeleteAction).GetName() == "broken" {
			return true, nil, boom
		}
		return false, nil, nil
	})
	exp := NewExpectations(testingclock.NewFakeClock(time.Now()))
	rec := record.NewFakeRecorder(10)
	owner := &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "rc", Namespace: "ns"}}
	victims := []*corev1.Pod{testPod("ok"), testPod("gone"), testPod("broken")}
	keys := []string{"ns/ok", "ns/gone", "ns/broken"}
	exp.Expect("ns/rc", 0, keys)

	err := DeletePods(t.Context(), client, exp, rec, "ns/rc", owner, victims)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "delete pod broken") {
		t.Errorf("error = %v, want the failed delete of broken wrapping boom", err)
	}
	if _, deletes := exp.Pending("ns/rc"); deletes != 1 {
		t.Errorf("pending deletes = %d, want 1 (ok, until its informer event)", deletes)
	}
	exp.DeletionObserved("ns/rc", "ns/ok")
	if !exp.Satisfied("ns/rc") {
		t.Error("not satisfied once ok's deletion was observed")
	}
	if _, err := client.CoreV1().Pods("ns").Get(t.Context(), "ok", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("pod ok after DeletePods: %v, want NotFound", err)
	}
	var events []string
	for len(rec.Events) > 0 {
		events = append(events, <-rec.Events)
	}
	slices.Sort(events)
	want := []string{"Normal SuccessfulDelete Deleted pod: ok", "Warning FailedDelete Error deleting: boom"}
	if !slices.Equal(events, want) {
		t.Errorf("events = %q, want %q", events, want)
	}
}

func TestDeletedPod(t *testing.T) {
	p := testPod("p")
	for _, tc := range []struct {
		name string
		obj  interface{}
		ok   bool
	}{
		{"pod", p, true},
		{"tombstone", cache.DeletedFinalStateUnknown{Key: "ns/p", Obj: p}, true},
		{"tombstone of another kind", cache.DeletedFinalStateUnknown{Key: "ns/s", Obj: &corev1.Service{}}, false},
		{"another kind", &corev1.Service{}, false},
	} {
		got, ok := DeletedPod(tc.obj)
		if ok != tc.ok || (ok && got != p) {
			t.Errorf("%s: DeletedPod = %v, %v; want the pod: %v", tc.name, got, ok, tc.ok)
		}
	}
}

func TestContextDefaults(t *testing.T) {
	var cc Context
	if _, ok := cc.ClockOrReal().(clock.RealClock); !ok || cc.EventRecorder("x") == nil {
		t.Fatal("zero Context: no clock or recorder")
	}
	cc.EventRecorder("x").Event(&corev1.Pod{}, corev1.EventTypeNormal, "R", "dropped") // must not block
	clk := testingclock.NewFakeClock(time.Unix(0, 0))
	rec := record.NewFakeRecorder(1)
	var component string
	cc = Context{Clock: clk, Recorder: func(c string) record.EventRecorder { component = c; return rec }}
	if cc.ClockOrReal() != clk || cc.EventRecorder("job-controller") != rec || component != "job-controller" {
		t.Error("Context's own clock and recorder not used")
	}
}

// TestPodFromTemplate: the pod carries copies of the template (changing it leaves the template
// alone), the owner's namespace, a generateName from the owner and a controller reference.
func TestPodFromTemplate(t *testing.T) {
	owner := &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "u1"}}
	tpl := &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}, Annotations: map[string]string{"a": "1"},
			Finalizers: []string{"f"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img"}}},
	}
	kind := corev1.SchemeGroupVersion.WithKind("ReplicationController")
	pod := PodFromTemplate(tpl, owner, kind)
	if pod.GenerateName != "web-" || pod.Namespace != "ns" || pod.Name != "" {
		t.Errorf("name %q generateName %q namespace %q", pod.Name, pod.GenerateName, pod.Namespace)
	}
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.UID != "u1" || ref.Kind != "ReplicationController" || ref.Name != "web" {
		t.Errorf("controller ref = %+v", ref)
	}
	if pod.Labels["app"] != "web" || pod.Annotations["a"] != "1" || !slices.Equal(pod.Finalizers, []string{"f"}) ||
		len(pod.Spec.Containers) != 1 || pod.Spec.Containers[0].Image != "img" {
		t.Errorf("pod does not carry the template: %+v", pod)
	}
	pod.Labels["app"], pod.Annotations["a"], pod.Finalizers[0], pod.Spec.Containers[0].Image = "x", "x", "x", "x"
	if tpl.Labels["app"] != "web" || tpl.Annotations["a"] != "1" || tpl.Finalizers[0] != "f" || tpl.Spec.Containers[0].Image != "img" {
		t.Errorf("changing the pod changed the template: %+v", tpl)
	}
}
