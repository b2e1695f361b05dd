package podautoscaler

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var now = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func testCalc() calculator {
	return calculator{tolerance: defaultTolerance, cpuInitializationPeriod: defaultCPUInitializationPeriod,
		initialReadinessDelay: defaultInitialReadinessDelay, now: now}
}

// pod is a running, ready pod started 10 minutes ago (past the CPU initialization period),
// requesting cpu (millicores) and memory (bytes) in one container.
func pod(name string, cpu, mem int64) *corev1.Pod {
	start := metav1.NewTime(now.Add(-10 * time.Minute))
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU: *resource.NewMilliQuantity(cpu, resource.DecimalSI), corev1.ResourceMemory: *resource.NewQuantity(mem, resource.BinarySI)}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, StartTime: &start,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: start}}}}
}

func usage(values map[string]int64) podMetrics {
	m := podMetrics{}
	for n, v := range values {
		m[n] = podMetric{timestamp: now.Add(-5 * time.Second), window: 15 * time.Second, value: v}
	}
	return m
}

func TestResourceReplicas(t *testing.T) {
	pending := pod("pending", 1000, 0)
	pending.Status.Phase = corev1.PodPending
	deleted := pod("deleted", 1000, 0)
	deleted.DeletionTimestamp = &metav1.Time{Time: now}
	young := pod("young", 1000, 0) // started a minute ago, ready for 3 s: its window predates readiness
	started := metav1.NewTime(now.Add(-time.Minute))
	young.Status.StartTime = &started
	young.Status.Conditions[0].LastTransitionTime = metav1.NewTime(now.Add(-3 * time.Second))
	for _, tc := range []struct {
		name         string
		current      int32
		target       int32
		pods         []*corev1.Pod
		usage        map[string]int64
		want         int32
		wantUtil     int32
		wantErrorHas string
	}{
		{name: "scale up by the ratio", current: 3, target: 50, pods: []*corev1.Pod{pod("a", 1000, 0), pod("b", 1000, 0), pod("c", 1000, 0)},
			usage: map[string]int64{"a": 900, "b": 1000, "c": 1100}, want: 6, wantUtil: 100},
		{name: "within tolerance keeps the count", current: 2, target: 50, pods: []*corev1.Pod{pod("a", 1000, 0), pod("b", 1000, 0)},
			usage: map[string]int64{"a": 530, "b": 520}, want: 2, wantUtil: 52},
		{name: "scale down", current: 4, target: 50, pods: []*corev1.Pod{pod("a", 1000, 0), pod("b", 1000, 0), pod("c", 1000, 0), pod("d", 1000, 0)},
			usage: map[string]int64{"a": 100, "b": 100, "c": 100, "d": 100}, want: 1, wantUtil: 10},
		{name: "missing pod counts as its full request on a scale-down", current: 4, target: 50,
			pods:  []*corev1.Pod{pod("a", 1000, 0), pod("b", 1000, 0), pod("c", 1000, 0), pod("d", 1000, 0)},
			usage: map[string]int64{"a": 100, "b": 100, "c": 100}, want: 3, wantUtil: 10},
		{name: "missing pod counts as zero on a scale-up", current: 2, target: 50, pods: []*corev1.Pod{pod("a", 1000, 0), pod("b", 1000, 0)},
			usage: map[string]int64{"a": 1000}, want: 2, wantUtil: 100},
		{name: "pending pod counts as zero on a scale-up", current: 4, target: 50,
			pods:  []*corev1.Pod{pod("a", 1000, 0), pod("b", 1000, 0), pod("c", 1000, 0), pending},
			usage: map[string]int64{"a": 1000, "b": 1000, "c": 1000}, want: 6, wantUtil: 100},
		{name: "deleted pods are ignored", current: 2, target: 50, pods: []*corev1.Pod{pod("a", 1000, 0), deleted},
			usage: map[string]int64{"a": 1000, "deleted": 0}, want: 2, wantUtil: 100},
		{name: "a pod measured before it was ready counts as zero on a scale-up", current: 4, target: 50,
			pods:  []*corev1.Pod{pod("a", 1000, 0), pod("b", 1000, 0), pod("c", 1000, 0), young},
			usage: map[string]int64{"a": 1000, "b": 1000, "c": 1000, "young": 3000}, want: 6, wantUtil: 100},
		{name: "no request", current: 1, target: 50, pods: []*corev1.Pod{{ObjectMeta: metav1.ObjectMeta{Name: "a"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}, Status: pod("a", 1, 0).Status}},
			usage: map[string]int64{"a": 100}, wantErrorHas: "missing request for cpu"},
		{name: "no pods", current: 1, target: 50, usage: map[string]int64{"a": 100}, wantErrorHas: "no pods returned by selector"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, util, _, err := testCalc().resourceReplicas(tc.current, tc.target, corev1.ResourceCPU, tc.pods, usage(tc.usage))
			if tc.wantErrorHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrorHas) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErrorHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || util != tc.wantUtil {
				t.Errorf("replicas %d at %d%%, want %d at %d%%", got, util, tc.want, tc.wantUtil)
			}
		})
	}
}

func TestPlainReplicas(t *testing.T) {
	pods := []*corev1.Pod{pod("a", 1000, 1<<30), pod("b", 1000, 1<<30)}
	mib := int64(1<<20) * 1000 // one MiB in milli-bytes
	got, avg, err := testCalc().plainReplicas(2, 100*mib, corev1.ResourceMemory, pods, usage(map[string]int64{"a": 200 * mib, "b": 200 * mib}))
	if err != nil || got != 4 || avg != 200*mib {
		t.Errorf("memory 200Mi each for a 100Mi target: %d replicas, average %d, %v; want 4", got, avg, err)
	}
	got, _, err = testCalc().plainReplicas(2, 100*mib, corev1.ResourceMemory, pods, usage(map[string]int64{"a": 105 * mib, "b": 100 * mib}))
	if err != nil || got != 2 {
		t.Errorf("within tolerance: %d, %v; want 2", got, err)
	}
}
