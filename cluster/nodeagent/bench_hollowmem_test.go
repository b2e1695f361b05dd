package nodeagent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"

	"github.com/drover-ci/drover/cluster/container/hollow"
)

// BenchmarkHollowNodeMemory runs N hollow node agents (DROVER_HOLLOW_NODES, default 50) in
// this process against a `drover server` process, runs DROVER_HOLLOW_CYCLES (default 20)
// cycles of one pod per node created, Running, deleted and gone, and reports the heap and
// goroutine stacks in use after a GC per node, with one event broadcaster per node ("own", as before) and one shared
// by all ("shared", as `drover node --runtime=hollow --count N`). Target: ≤ 5 MB per node.
func BenchmarkHollowNodeMemory(b *testing.B) {
	for _, shared := range []bool{false, true} {
		name := map[bool]string{false: "own", true: "shared"}[shared]
		b.Run(name, func(b *testing.B) { benchHollowMemory(b, shared) })
	}
}

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
		return v
	}
	return def
}

func heapMB() float64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapInuse+m.StackInuse) / (1 << 20)
}

func benchHollowMemory(b *testing.B, shared bool) {
	n, cycles := envInt("DROVER_HOLLOW_NODES", 50), envInt("DROVER_HOLLOW_CYCLES", 20)
	kc, _, admin := startServerProc(b)
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		b.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	ctx, cancel := context.WithCancel(context.Background())
	b.ResetTimer()
	before := heapMB()
	base, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	var events record.EventBroadcaster
	done := make(chan error, n)
	for i := 0; i < n; i++ {
		client, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			b.Fatal(err)
		}
		rt := hollow.New(hollow.Options{})
		c := Config{NodeName: fmt.Sprintf("mem-%d", i), Client: client, Runtime: rt, Probes: rt.Prober(), NodeIP: "127.0.0.1",
			Labels: map[string]string{"drover.io/hollow": "true"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if shared {
			if events == nil {
				events = NewEventBroadcaster(context.Background(), base)
			}
			c.Events = events
		}
		a, err := New(c)
		if err != nil {
			b.Fatal(err)
		}
		go func() { done <- a.Run(ctx) }()
	}
	defer func() {
		cancel()
		for i := 0; i < n; i++ {
			<-done
		}
		if events != nil {
			events.Shutdown()
		}
	}()
	waitPods := func(want func([]corev1.Pod) bool, what string) {
		deadline := time.Now().Add(3 * time.Minute)
		for {
			list, err := admin.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
			if err == nil && want(list.Items) {
				return
			}
			if time.Now().After(deadline) {
				b.Fatalf("pods not %s within 3 min", what)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	for cy := 0; cy < cycles; cy++ {
		for i := 0; i < n; i++ {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%d-%d", cy, i), Namespace: "default"},
				Spec: corev1.PodSpec{NodeName: fmt.Sprintf("mem-%d", i), Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
			if _, err := admin.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		waitPods(func(ps []corev1.Pod) bool {
			running := 0
			for _, p := range ps {
				if p.Status.Phase == corev1.PodRunning {
					running++
				}
			}
			return running == n
		}, "Running")
		zero := int64(0)
		for i := 0; i < n; i++ {
			_ = admin.CoreV1().Pods("default").Delete(context.Background(), fmt.Sprintf("p-%d-%d", cy, i), metav1.DeleteOptions{GracePeriodSeconds: &zero})
		}
		waitPods(func(ps []corev1.Pod) bool { return len(ps) == 0 }, "gone")
	}
	time.Sleep(2 * time.Second) // the last events are recorded
	after := heapMB()
	b.StopTimer()
	per := (after - before) / float64(n)
	b.ReportMetric(per, "heap-MB/node")
	b.Logf("%d hollow nodes, %d cycles, events %s: heap and stacks in use %.1f → %.1f MB after GC, %.2f MB per node",
		n, cycles, map[bool]string{false: "per node", true: "shared"}[shared], before, after, per)
}
