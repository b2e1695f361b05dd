package nodelifecycle

import (
	"context"
	"fmt"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/internal/logtest"
	"github.com/drover-ci/drover/internal/uptest"
)

func readyNode(name string, at time.Time) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(at.Add(-time.Hour))},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
			LastHeartbeatTime: metav1.NewTime(at), LastTransitionTime: metav1.NewTime(at.Add(-time.Hour))}}},
	}
}

func lease(node string, at time.Time) *coordinationv1.Lease {
	t := metav1.NewMicroTime(at)
	return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: node, Namespace: corev1.NamespaceNodeLease},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &node, RenewTime: &t}}
}

func boundPod(name, node string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("u-" + name)},
		Spec:   corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
}

// TestStaleLeaseThenEviction walks a node through the grace period (NotReady, tainted, pods
// not ready) and the eviction timeout (pods deleted), with a fake clock; the healthy node
// and its pod are left alone.
func TestStaleLeaseThenEviction(t *testing.T) {
	start := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start)
	// daemon tolerates the unreachable NoExecute taint for ever (as daemon pods do), patient
	// for 90 s: they are evicted never and after 90 s, not after the eviction timeout.
	daemon, patient := boundPod("daemon", "n1"), boundPod("patient", "n1")
	daemon.Spec.Tolerations = []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}}
	ninety := int64(90)
	patient.Spec.Tolerations = []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &ninety}}
	client := fake.NewSimpleClientset(
		readyNode("n1", start), readyNode("n2", start), lease("n1", start), lease("n2", start),
		boundPod("a", "n1"), boundPod("b", "n2"), daemon, patient)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(controller.Context{Logger: logtest.New(t), Client: client, Informers: factory, Clock: clk,
		Options: controller.Options{NodeMonitorGracePeriod: 40 * time.Second, PodEvictionTimeout: 60 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())

	renew := func(at time.Time) {
		l := lease("n2", at)
		if _, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Update(ctx, l, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitLease(t, c, "n2", at)
	}
	step := func(d time.Duration) {
		clk.Step(d)
		renew(clk.Now())
		c.MonitorOnce(ctx)
		// Let the informer see what MonitorOnce wrote.
		time.Sleep(50 * time.Millisecond)
	}

	step(30 * time.Second) // within the grace period
	if s := nodeReady(t, client, "n1"); s != corev1.ConditionTrue {
		t.Fatalf("after 30s n1 Ready = %s, want True", s)
	}
	step(15 * time.Second) // 45s without a heartbeat
	if s := nodeReady(t, client, "n1"); s != corev1.ConditionUnknown {
		t.Fatalf("after 45s n1 Ready = %s, want Unknown", s)
	}
	n1, _ := client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if !hasTaint(n1, TaintUnreachableNoExecute) || !hasTaint(n1, TaintUnreachableNoSchedule) {
		t.Errorf("n1 taints = %v, want the unreachable taints", n1.Spec.Taints)
	}
	pa, _ := client.CoreV1().Pods("default").Get(ctx, "a", metav1.GetOptions{})
	if pa.Status.Conditions[0].Status != corev1.ConditionFalse {
		t.Errorf("pod a Ready = %s, want False once its node is unknown", pa.Status.Conditions[0].Status)
	}
	step(30 * time.Second) // NotReady for 30s: not yet evicted
	if _, err := client.CoreV1().Pods("default").Get(ctx, "a", metav1.GetOptions{}); err != nil {
		t.Fatalf("pod a evicted before the eviction timeout: %v", err)
	}
	step(35 * time.Second) // NotReady for 65s
	if _, err := client.CoreV1().Pods("default").Get(ctx, "a", metav1.GetOptions{}); err == nil {
		t.Fatal("pod a still exists after the eviction timeout")
	}
	if _, err := client.CoreV1().Pods("default").Get(ctx, "b", metav1.GetOptions{}); err != nil {
		t.Fatalf("pod b on the healthy node was touched: %v", err)
	}
	for _, name := range []string{"daemon", "patient"} {
		if _, err := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Fatalf("pod %s tolerating the taint evicted at the eviction timeout: %v", name, err)
		}
	}
	step(30 * time.Second) // NotReady for 95s
	if _, err := client.CoreV1().Pods("default").Get(ctx, "patient", metav1.GetOptions{}); err == nil {
		t.Error("pod patient still exists after its 90 s toleration")
	}
	if _, err := client.CoreV1().Pods("default").Get(ctx, "daemon", metav1.GetOptions{}); err != nil {
		t.Errorf("pod daemon tolerating the taint for ever evicted: %v", err)
	}
	if s := nodeReady(t, client, "n2"); s != corev1.ConditionTrue {
		t.Fatalf("healthy n2 Ready = %s", s)
	}
}

func nodeReady(t *testing.T, client *fake.Clientset, name string) corev1.ConditionStatus {
	t.Helper()
	n, err := client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return readyCondition(n).Status
}

func waitLease(t *testing.T, c *Controller, node string, at time.Time) {
	t.Helper()
	uptest.Eventually(t, 5*time.Second, fmt.Sprintf("the lease of %s seen renewed at %s", node, at), func() bool {
		l, err := c.leases.Leases(corev1.NamespaceNodeLease).Get(node)
		return err == nil && l.Spec.RenewTime.Time.Equal(at)
	})
}
