package scheduler

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
)

// benchPods is how many pending pods each iteration of BenchmarkScheduler1000Nodes binds.
const benchPods = 3000

func hollowNodes(n int) []*corev1.Node {
	out := make([]*corev1.Node, n)
	for i := range out {
		out[i] = hollowNode(fmt.Sprintf("hollow-%04d", i), withAlloc("8", "32Gi", "110"))
	}
	return out
}

// BenchmarkScheduler1000Nodes: 1,000 Ready nodes (node objects only) in a real API server over
// memstore; each iteration creates benchPods pending pods of one RC in a fresh namespace, then
// times a fresh scheduler (informer sync included) until the API server shows every pod bound.
func BenchmarkScheduler1000Nodes(b *testing.B) {
	srv := apiservertest.Start(b)
	client := kubernetes.NewForConfigOrDie(unlimited(srv.Config))
	createNodes(b, client, hollowNodes(1000))
	ctx := context.Background()
	var total time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		ns := fmt.Sprintf("bench-%d", i)
		if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		rc := createOwner(b, client, ns)
		createPods(b, client, ns, benchPods, withRequests("10m", "16Mi"), ownedBy(string(rc.UID)))
		w := watchBindings(b, client, ns)
		b.StartTimer()
		start := time.Now()
		stop := startScheduler(b, client)
		w.wait(b, benchPods)
		total += time.Since(start)
		b.StopTimer()
		stop()
		w.stop()
	}
	b.ReportMetric(float64(benchPods*b.N)/total.Seconds(), "pods/s")
}

// createOwner creates the RC the benchmark's pods name as their controller (the API server's
// garbage collector deletes pods whose owner does not exist). No replication manager runs.
func createOwner(tb testing.TB, client kubernetes.Interface, ns string) *corev1.ReplicationController {
	zero := int32(0)
	labels := map[string]string{"app": "bench"}
	rc := &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "agents", Namespace: ns},
		Spec: corev1.ReplicationControllerSpec{Replicas: &zero, Selector: labels, Template: &corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
		}},
	}
	rc, err := client.CoreV1().ReplicationControllers(ns).Create(context.Background(), rc, metav1.CreateOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return rc
}

type bindWatch struct {
	w     watch.Interface
	bound map[string]bool
}

func watchBindings(tb testing.TB, client kubernetes.Interface, ns string) *bindWatch {
	list, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	w, err := client.CoreV1().Pods(ns).Watch(context.Background(), metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		tb.Fatal(err)
	}
	return &bindWatch{w: w, bound: map[string]bool{}}
}

func (bw *bindWatch) wait(tb testing.TB, n int) {
	timeout := time.After(2 * time.Minute)
	for len(bw.bound) < n {
		select {
		case ev, ok := <-bw.w.ResultChan():
			if !ok {
				tb.Fatalf("watch closed with %d of %d pods bound", len(bw.bound), n)
			}
			if p, isPod := ev.Object.(*corev1.Pod); isPod && p.Spec.NodeName != "" {
				bw.bound[p.Name] = true
			}
		case <-timeout:
			tb.Fatalf("%d of %d pods bound after 2 minutes", len(bw.bound), n)
		}
	}
}

func (bw *bindWatch) stop() { bw.w.Stop() }

// BenchmarkSchedule1000Nodes is the placement alone: one pod of an RC over 1,000 hollow nodes
// already running 10 pods each; every placed pod is counted on its node, as the controller does.
func BenchmarkSchedule1000Nodes(b *testing.B) {
	s := NewSnapshot()
	for i, n := range hollowNodes(1000) {
		s.SetNode(n)
		for j := range 10 {
			s.AddPod(newPod(fmt.Sprintf("run-%d-%d", i, j), withRequests("100m", "256Mi"), onNode(n.Name), ownedBy(fmt.Sprintf("rc-%d", j))))
		}
	}
	pods := make([]*corev1.Pod, b.N)
	for i := range pods {
		pods[i] = newPod(fmt.Sprintf("p-%d", i), withRequests("10m", "16Mi"), ownedBy("rc-bench"))
	}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		node, err := Schedule(pods[i], s)
		if err != nil {
			b.Fatal(err)
		}
		pods[i].Spec.NodeName = node
		s.AddPod(pods[i])
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "pods/s")
}
