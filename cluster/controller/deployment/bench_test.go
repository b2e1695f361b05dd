package deployment_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// benchReplicas is the size of the benchmark's Deployment and ReplicationController.
const benchReplicas = 30

// BenchmarkRollingUpdate30: a 30-replica Deployment (default 25 % surge and unavailability)
// on 3 hollow nodes (in-process node agents, real API server, scheduler and controllers);
// each iteration changes its template (what `kubectl set image` does) and measures the time
// until the rollout is complete as kubectl rollout status sees it (rollout-s, and
// rollout-pods/s = 30 / rollout-s). In the same run, the same 30 pods are recreated through a
// ReplicationController scaled to 0 (until its pods are gone) and back to 30 (until they are
// Ready): rc-recreate-s and rc-pods/s.
func BenchmarkRollingUpdate30(b *testing.B) {
	c := startCluster(b, 3)
	ctx := context.Background()
	d := testDeployment("bench", "img:0", benchReplicas, intstr.FromString("25%"), intstr.FromString("25%"))
	if _, err := c.cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	c.waitComplete(b, "bench", 5*time.Minute)
	rc := testRC("rcbench", benchReplicas)
	if _, err := c.cs.CoreV1().ReplicationControllers("default").Create(ctx, rc, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	c.waitPods(b, "rcbench", benchReplicas)

	var rollout, recreate time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		c.update(b, "bench", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = fmt.Sprintf("img:%d", i+1) })
		c.waitCompleteFast(b, "bench", 5*time.Minute)
		rollout += time.Since(start)

		start = time.Now()
		c.scaleRC(b, "rcbench", 0)
		c.waitPods(b, "rcbench", 0)
		c.scaleRC(b, "rcbench", benchReplicas)
		c.waitPods(b, "rcbench", benchReplicas)
		recreate += time.Since(start)
	}
	b.StopTimer()
	perRollout := rollout.Seconds() / float64(b.N)
	perRecreate := recreate.Seconds() / float64(b.N)
	b.ReportMetric(perRollout, "rollout-s")
	b.ReportMetric(benchReplicas/perRollout, "rollout-pods/s")
	b.ReportMetric(perRecreate, "rc-recreate-s")
	b.ReportMetric(benchReplicas/perRecreate, "rc-pods/s")
}

// waitCompleteFast polls for a complete rollout every 20 ms (the benchmark's clock).
func (c *cluster) waitCompleteFast(b *testing.B, name string, within time.Duration) {
	deadline := time.Now().Add(within)
	for !complete(c.get(b, name)) {
		if time.Now().After(deadline) {
			b.Fatalf("deployment %s not rolled out after %v: %+v", name, within, c.get(b, name).Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testRC(name string, replicas int32) *corev1.ReplicationController {
	return &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ReplicationControllerSpec{
			Replicas: &replicas,
			Selector: map[string]string{"app": name},
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:0"}}},
			},
		},
	}
}

func (c *cluster) scaleRC(b *testing.B, name string, n int32) {
	rcs := c.cs.CoreV1().ReplicationControllers("default")
	for i := 0; ; i++ { // the RC's status updates can make the scale's resourceVersion stale
		sc, err := rcs.GetScale(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		sc.Spec.Replicas = n
		_, err = rcs.UpdateScale(context.Background(), name, sc, metav1.UpdateOptions{})
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) || i > 10 {
			b.Fatal(err)
		}
	}
}

// waitPods polls every 20 ms until app has exactly n pods, all Ready (n = 0: none left).
func (c *cluster) waitPods(b *testing.B, app string, n int) {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		list, err := c.cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
		if err != nil {
			b.Fatal(err)
		}
		ready := 0
		for i := range list.Items {
			if podReady(&list.Items[i]) && list.Items[i].DeletionTimestamp == nil {
				ready++
			}
		}
		if len(list.Items) == n && ready == n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: %d pods (%d Ready) after 5 min, want %d", app, len(list.Items), ready, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
