package replication_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cluster/container/hollow"
	"github.com/drover-ci/drover/cluster/controller/controllertest"
	"github.com/drover-ci/drover/cluster/controller/replication"
	"github.com/drover-ci/drover/cluster/nodeagent"
	"github.com/drover-ci/drover/internal/logtest"
	"github.com/drover-ci/drover/internal/uptest"
)

func testRS(name string, replicas int32, nodeName string) *appsv1.ReplicaSet {
	labels := map[string]string{"app": name, "pod-template-hash": "abc12"}
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
	}
}

// TestIntegrationReplicaSetScaleAndCascade runs the ReplicaSet manager against the real API
// server: pods owned by the ReplicaSet with its template's labels, scale through the scale
// subresource, and deleting the ReplicaSet collects its pods.
func TestIntegrationReplicaSetScaleAndCascade(t *testing.T) {
	_, cs := controllertest.Run(t, replication.NewReplicaSet)
	ctx := t.Context()
	rss := cs.AppsV1().ReplicaSets("default")
	rs, err := rss.Create(ctx, testRS("web", 3, ""), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hasPods := func(n int) func() bool {
		return func() bool {
			cur, err := rss.Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return len(activePods(t, cs, "app=web")) == n && cur.Status.Replicas == int32(n) && cur.Status.ObservedGeneration == cur.Generation
		}
	}
	uptest.Eventually(t, 20*time.Second, "3 pods", hasPods(3))
	for _, p := range activePods(t, cs, "app=web") {
		ref := metav1.GetControllerOf(&p)
		if ref == nil || ref.UID != rs.UID || ref.Kind != "ReplicaSet" || ref.APIVersion != "apps/v1" || !*ref.BlockOwnerDeletion ||
			p.Labels["pod-template-hash"] != "abc12" {
			t.Errorf("pod %s: controller %+v labels %v", p.Name, ref, p.Labels)
		}
	}
	scale, err := rss.GetScale(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if scale.Status.Selector != "app=web,pod-template-hash=abc12" {
		t.Errorf("scale selector %q", scale.Status.Selector)
	}
	scale.Spec.Replicas = 1
	if _, err := rss.UpdateScale(ctx, "web", scale, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 20*time.Second, "scaled to 1", hasPods(1))

	if err := rss.Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 20*time.Second, "pods collected with their ReplicaSet", func() bool {
		return len(activePods(t, cs, "app=web")) == 0
	})
}

// TestHollowReplicaSetPodsRunAndBecomeAvailable runs a ReplicaSet's pods on a node agent over
// the hollow runtime (what the scale benchmark's hollow nodes are): they run, become ready,
// and the ReplicaSet reports them ready and, after minReadySeconds, available.
func TestHollowReplicaSetPodsRunAndBecomeAvailable(t *testing.T) {
	_, cs := controllertest.Run(t, replication.NewReplicaSet)
	const node = "hollow-rs"
	rt := hollow.New(hollow.Options{})
	agent, err := nodeagent.New(nodeagent.Config{NodeName: node, Client: cs, Runtime: rt, Probes: rt.Prober(),
		NodeIP: "127.0.0.1", Relist: 50 * time.Millisecond, Logger: logtest.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agent.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	rs := testRS("hollow", 3, node)
	rs.Spec.MinReadySeconds = 1
	if _, err := cs.AppsV1().ReplicaSets("default").Create(t.Context(), rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var last string
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(last)
		}
	})
	uptest.Eventually(t, 30*time.Second, "3 running, ready and available pods", func() bool {
		cur, err := cs.AppsV1().ReplicaSets("default").Get(t.Context(), "hollow", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		running := 0
		for _, p := range activePods(t, cs, "app=hollow") {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		last = fmt.Sprintf("running %d, status %+v", running, cur.Status)
		st := cur.Status
		return running == 3 && st.Replicas == 3 && st.ReadyReplicas == 3 && st.AvailableReplicas == 3 && st.FullyLabeledReplicas == 3
	})
}
