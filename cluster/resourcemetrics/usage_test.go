package resourcemetrics

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	testingclock "k8s.io/utils/clock/testing"
)

// answer is a node's /metrics/resource with one container "c" of pod default/p.
func answer(at time.Time, cpuSeconds float64, mem int, started time.Time, nodeCPU float64) string {
	ms := at.UnixMilli()
	return fmt.Sprintf(`# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="c",namespace="default",pod="p"} %g %d
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{container="c",namespace="default",pod="p"} %d %d
# TYPE container_start_time_seconds gauge
container_start_time_seconds{container="c",namespace="default",pod="p"} %d
# TYPE node_cpu_usage_seconds_total counter
node_cpu_usage_seconds_total %g %d
# TYPE node_memory_working_set_bytes gauge
node_memory_working_set_bytes %d %d
`, cpuSeconds, ms, mem, ms, started.Unix(), nodeCPU, ms, mem, ms)
}

// TestRates: CPU is the counters' rate between two scrapes; a container that started after
// the previous scrape is measured from its start; a restarted one (another start time) with a
// counter that went down has no metrics until the next scrape; a node that stops answering
// drops out.
func TestRates(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	clk := testingclock.NewFakeClock(t0)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", Labels: map[string]string{"zone": "a"}}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", Labels: map[string]string{"app": "x"}},
		Spec: corev1.PodSpec{NodeName: "n"}}
	var body string
	c := New(Config{Clock: clk, Resolution: 15 * time.Second,
		Nodes: func(context.Context) ([]*corev1.Node, error) { return []*corev1.Node{node}, nil },
		Fetch: func(context.Context, *corev1.Node) (io.ReadCloser, error) {
			if body == "" {
				return nil, fmt.Errorf("down")
			}
			return io.NopCloser(strings.NewReader(body)), nil
		}})
	start := t0.Add(-time.Hour)
	scrape := func(at time.Time, cpu float64, started time.Time, nodeCPU float64) {
		body = answer(at, cpu, 1<<20, started, nodeCPU)
		c.Scrape(context.Background())
	}
	scrape(t0, 100, start, 1000)
	if _, ok := c.PodMetrics(pod); ok {
		t.Errorf("metrics after one scrape of a container that started before it")
	}
	scrape(t0.Add(15*time.Second), 103, start, 1006)
	m, ok := c.PodMetrics(pod)
	if !ok || m.Containers[0].Usage.Cpu().MilliValue() != 200 || m.Window.Duration != 15*time.Second || m.Labels["app"] != "x" {
		t.Fatalf("pod metrics: %v %+v, want 200m over 15s", ok, m)
	}
	if n, ok := c.NodeMetrics(node); !ok || n.Usage.Cpu().MilliValue() != 400 || n.Usage.Memory().Value() != 1<<20 {
		t.Fatalf("node metrics: %v %+v, want 400m", ok, n)
	}
	restart := t0.Add(20 * time.Second)
	scrape(t0.Add(30*time.Second), 2.5, restart, 1010)
	if m, ok := c.PodMetrics(pod); !ok || m.Containers[0].Usage.Cpu().MilliValue() != 250 || m.Window.Duration != 10*time.Second {
		t.Fatalf("a container restarted since the last scrape: %v %+v, want 250m since its start", ok, m)
	}
	body = ""
	c.Scrape(context.Background())
	if _, ok := c.NodeMetrics(node); ok {
		t.Errorf("node metrics after a failed scrape")
	}
	if _, ok := c.PodMetrics(pod); ok {
		t.Errorf("pod metrics after a failed scrape")
	}
}
