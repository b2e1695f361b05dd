package scheduler

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/drover-ci/drover/internal/uptest"
)

func TestControllerBindsPendingPods(t *testing.T) {
	now := metav1.Now()
	deleting := newPod("deleting")
	deleting.DeletionTimestamp = &now
	f := newFixture(t, false,
		hollowNode("node-a"), hollowNode("node-b"),
		newPod("running", withRequests("3", "6Gi"), onNode("node-a")),
		newPod("pending", withRequests("1", "1Gi")),
		newPod("other-scheduler", func(p *corev1.Pod) { p.Spec.SchedulerName = "custom" }),
		deleting,
	)
	uptest.Eventually(t, 10*time.Second, "the binding", func() bool { return len(f.bindings()) == 1 })
	uptest.Eventually(t, 10*time.Second, "the Scheduled event", func() bool { return len(f.eventsWith("Scheduled")) == 1 })
	time.Sleep(50 * time.Millisecond) // nothing else may be bound
	if diff := cmp.Diff(map[string]string{"pending": "node-b"}, f.bindings()); diff != "" {
		t.Errorf("bindings (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Normal Scheduled Successfully assigned default/pending to node-b"}, f.eventsWith("Scheduled")); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	// a pod created later is bound too
	if _, err := f.client.CoreV1().Pods("default").Create(context.Background(), newPod("later"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 10*time.Second, "the later binding", func() bool { return f.bindings()["later"] != "" })
}

func TestControllerUnschedulableThenNodeAppears(t *testing.T) {
	f := newFixture(t, false, hollowNode("node-a"), newPod("p", withNodeSelector("disk", "ssd")))
	const msg = "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."
	uptest.Eventually(t, 10*time.Second, "the status update", func() bool { return len(f.statusUpdates()) == 1 })
	cond := f.statusUpdates()[0].Status.Conditions
	want := []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: msg}}
	if diff := cmp.Diff(want, cond, cmpIgnoreTimes); diff != "" {
		t.Errorf("conditions (-want +got):\n%s", diff)
	}
	uptest.Eventually(t, 10*time.Second, "the FailedScheduling event", func() bool { return len(f.eventsWith("FailedScheduling")) == 1 })
	if got := f.eventsWith("FailedScheduling")[0]; got != "Warning FailedScheduling "+msg {
		t.Errorf("event = %q", got)
	}
	if len(f.bindings()) != 0 {
		t.Fatalf("bound: %v", f.bindings())
	}
	uptest.Eventually(t, 10*time.Second, "the pod parked", func() bool { return f.ctrl.parked.len() == 1 })
	if _, err := f.client.CoreV1().Nodes().Create(context.Background(), hollowNode("node-ssd", withLabel("disk", "ssd")), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 10*time.Second, "the binding to the new node", func() bool { return f.bindings()["p"] == "node-ssd" })
	if n := len(f.statusUpdates()); n != 1 {
		t.Errorf("%d status updates; the unchanged message must not be written again", n)
	}
}

var cmpIgnoreTimes = cmp.FilterPath(func(p cmp.Path) bool {
	s := p.String()
	return s == "LastProbeTime" || s == "LastTransitionTime"
}, cmp.Ignore())

func TestControllerBurstDoesNotOvercommit(t *testing.T) {
	// The informer never shows the pods bound: only the assumed pods stop the overcommit.
	objs := []runtime.Object{hollowNode("node-a"), hollowNode("node-b")}
	for i := range 10 {
		objs = append(objs, newPod(fmt.Sprintf("p%d", i), withRequests("1", "")))
	}
	f := newFixture(t, true, objs...)
	uptest.Eventually(t, 10*time.Second, "8 bindings and 2 pods parked", func() bool { return len(f.bindings()) == 8 && f.ctrl.parked.len() == 2 })
	perNode := map[string]int{}
	for _, n := range f.bindings() {
		perNode[n]++
	}
	if diff := cmp.Diff(map[string]int{"node-a": 4, "node-b": 4}, perNode); diff != "" {
		t.Errorf("pods per node (-want +got):\n%s", diff)
	}
	uptest.Eventually(t, 10*time.Second, "2 status updates", func() bool { return len(f.statusUpdates()) == 2 })
	for _, p := range f.statusUpdates() {
		if m := p.Status.Conditions[0].Message; m != "0/2 nodes are available: 2 Insufficient cpu." {
			t.Errorf("%s: message %q", p.Name, m)
		}
	}
}

func TestControllerRetriesPeriodically(t *testing.T) {
	f := newFixture(t, false, hollowNode("node-a", withAlloc("1", "1Gi", "110")), newPod("big", withRequests("2", "")))
	uptest.Eventually(t, 10*time.Second, "the first FailedScheduling", func() bool { return len(f.eventsWith("FailedScheduling")) == 1 })
	uptest.Eventually(t, 10*time.Second, "the pod parked", func() bool { return f.ctrl.parked.len() == 1 })
	uptest.Eventually(t, 10*time.Second, "the ticker", func() bool { return f.clock.HasWaiters() })
	f.clock.Step(RetryPeriod)
	uptest.Eventually(t, 10*time.Second, "the periodic retry", func() bool { return len(f.eventsWith("FailedScheduling")) == 2 })
}

func TestControllerRetriesWhenAPodEnds(t *testing.T) {
	running := newPod("running", withRequests("3", ""), onNode("node-a"))
	f := newFixture(t, false, hollowNode("node-a"), running, newPod("waiting", withRequests("2", "")))
	uptest.Eventually(t, 10*time.Second, "the pod parked", func() bool { return f.ctrl.parked.len() == 1 })
	done := running.DeepCopy()
	done.Status.Phase = corev1.PodSucceeded
	if _, err := f.client.CoreV1().Pods("default").UpdateStatus(context.Background(), done, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 10*time.Second, "the binding", func() bool { return f.bindings()["waiting"] == "node-a" })
}

func TestControllerRetriesFailedBinding(t *testing.T) {
	f := newFixture(t, false, hollowNode("node-a"))
	f.mu.Lock()
	f.failBinds = 2
	f.mu.Unlock()
	if _, err := f.client.CoreV1().Pods("default").Create(context.Background(), newPod("p", withRequests("4", "")), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 10*time.Second, "the pod bound", func() bool {
		p, err := f.client.CoreV1().Pods("default").Get(context.Background(), "p", metav1.GetOptions{})
		return err == nil && p.Spec.NodeName == "node-a"
	})
	// the failed attempts released the node's cpu: nothing is left assumed
	uptest.Eventually(t, 10*time.Second, "the binding observed", func() bool { return f.assumedCount() == 0 })
	if n := len(f.eventsWith("Scheduled")); n != 1 {
		t.Errorf("%d Scheduled events", n)
	}
}

func (f *fixture) assumedCount() int {
	f.ctrl.cache.mu.Lock()
	defer f.ctrl.cache.mu.Unlock()
	return len(f.ctrl.cache.assumed)
}
