package manager_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/container/hollow"
	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/cluster/controller/manager"
	"github.com/drover-ci/drover/cluster/nodeagent"
	"github.com/drover-ci/drover/internal/logtest"
	"github.com/drover-ci/drover/internal/uptest"
)

// TestHollowNodeFailure: three hollow nodes run an RC's pods; one node stops heartbeating; it
// becomes NotReady (Unknown) after the grace period, and after the eviction timeout its pods
// are replaced by pods running on the two others.
func TestHollowNodeFailure(t *testing.T) {
	srv := apiservertest.Start(t)
	client, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = manager.Run(ctx, manager.Config{Logger: logtest.New(t), Client: client, Identity: "test",
			LeaseDuration: 4 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: 500 * time.Millisecond,
			Options: controller.Options{NodeMonitorGracePeriod: 3 * time.Second, PodEvictionTimeout: 3 * time.Second}})
	}()
	stops := map[string]context.CancelFunc{}
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("hollow-%d", i)
		rt := hollow.New(hollow.Options{})
		a, err := nodeagent.New(nodeagent.Config{NodeName: name, Client: client, Runtime: rt, Probes: rt.Prober(),
			Heartbeat: 500 * time.Millisecond, Relist: 200 * time.Millisecond, NodeIP: fmt.Sprintf("192.0.2.%d", 10+i)})
		if err != nil {
			t.Fatal(err)
		}
		actx, stop := context.WithCancel(ctx)
		stops[name] = stop
		go func() { _ = a.Run(actx) }()
	}
	replicas := int32(6)
	rc := &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "agents", Namespace: "default"},
		Spec: corev1.ReplicationControllerSpec{Replicas: &replicas, Selector: map[string]string{"app": "agent"},
			Template: &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "drover/testserver:1"}}}}},
	}
	if _, err := client.CoreV1().ReplicationControllers("default").Create(ctx, rc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	perNode := func() map[string]int {
		pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=agent"})
		if err != nil {
			return nil
		}
		out := map[string]int{}
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
				out[p.Spec.NodeName]++
			}
		}
		return out
	}
	var victim string
	uptest.Eventually(t, 30*time.Second, "6 running pods spread over the 3 nodes", func() bool {
		m := perNode()
		if m["hollow-0"]+m["hollow-1"]+m["hollow-2"] != 6 {
			return false
		}
		for n, c := range m {
			if c > 0 && n != "" {
				victim = n
			}
		}
		return len(m) >= 2
	})
	stops[victim]() // its heartbeats stop
	uptest.Eventually(t, 20*time.Second, victim+" NotReady", func() bool {
		n, err := client.CoreV1().Nodes().Get(ctx, victim, metav1.GetOptions{})
		if err != nil {
			return false
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c.Status != corev1.ConditionTrue
			}
		}
		return false
	})
	uptest.Eventually(t, 40*time.Second, "6 running pods on the two live nodes", func() bool {
		m := perNode()
		return m[victim] == 0 && sum(m) == 6
	})
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
