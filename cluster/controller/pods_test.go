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
