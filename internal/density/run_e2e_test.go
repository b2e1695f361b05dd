package density

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-ci/drover/cmd/drover/app"
	"github.com/drover-ci/drover/internal/uptest"

	"github.com/drover-ci/drover/internal/logtest"
)

// runDrover runs a drover command line in this process until the test ends.
func runDrover(t *testing.T, args ...string) *logtest.Buffer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	out := &logtest.Buffer{}
	go func() { done <- app.Run(ctx, args, app.Streams{In: strings.NewReader(""), Out: out, ErrOut: out}) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("drover %s:\n%s", args[0], out.String())
		}
	})
	return out
}

// TestRunMeasuresSaturationThenLatencyPods runs the driver against a `drover server` and three
// hollow nodes (both in this process): the saturation pods (two RCs of 30) all Running with a
// startup each, then one latency pod per node, created one at a time only after that, each
// requesting a fifth of a node's allocatable (so they spread, one per node), measured on their
// own; the row carries both.
func TestRunMeasuresSaturationThenLatencyPods(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	runDrover(t, "server", "--data-dir", dir, "--listen", addr, "--store", "memory://",
		"--cluster-cidr", "none", "--metric-resolution", "0", "--log-level", "warn")
	kc := filepath.Join(dir, "kubeconfig")
	var client kubernetes.Interface
	uptest.Eventually(t, 30*time.Second, "drover server ready", func() bool {
		cfg, err := clientcmd.BuildConfigFromFlags("", kc)
		if err != nil {
			return false
		}
		cfg.QPS, cfg.Burst = 200, 400
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return false
		}
		if _, err := cs.CoreV1().Namespaces().Get(t.Context(), "kube-system", metav1.GetOptions{}); err != nil {
			return false
		}
		client = cs
		return true
	})
	runDrover(t, "node", "--kubeconfig", kc, "--runtime=hollow", "--count", "3", "--node-name", "dens",
		"--log-port", "0", "--dns=false", "--proxy=false", "--data-dir", t.TempDir(), "--log-level", "warn")

	cfg, err := ParseFlags([]string{"--kubeconfig", kc, "--nodes", "3", "--pods", "60", "--header",
		"--node-timeout", "60s", "--pod-timeout", "90s", "--list-interval", "1s", "--progress-interval", "5s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := Run(t.Context(), cfg, client, slog.New(slog.NewTextHandler(io.Discard, nil)), &out)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Finished || res.Running != 60 || len(res.Startup) != 60 {
		t.Errorf("saturation: finished %v, %d Running, %d startups; want true, 60, 60", res.Finished, res.Running, len(res.Startup))
	}
	if !res.LatencyFinished || res.LatencyExpected != 3 || res.LatencyRunning != 3 || len(res.Latency.Startup) != 3 ||
		len(res.Latency.CreateToSchedule) != 3 || res.LatencySkipped != "" {
		t.Errorf("latency: finished %v, %d of %d Running, %d startups, %d create → scheduled, skipped %q; want all 3",
			res.LatencyFinished, res.LatencyRunning, res.LatencyExpected, len(res.Latency.Startup), len(res.Latency.CreateToSchedule), res.LatencySkipped)
	}

	pods, err := client.CoreV1().Pods(metav1.NamespaceAll).List(t.Context(), metav1.ListOptions{LabelSelector: labelLatency})
	if err != nil {
		t.Fatal(err)
	}
	nodes := map[string]bool{}
	var latest time.Time
	for _, p := range pods.Items {
		nodes[p.Spec.NodeName] = true
		req := p.Spec.Containers[0].Resources.Requests
		if req.Cpu().IsZero() || req.Memory().IsZero() {
			t.Errorf("latency pod %s requests %v, want a fifth of a node's cpu and memory", p.Name, req)
		}
		if _, sat := p.Labels[labelRun]; sat {
			t.Errorf("latency pod %s carries %s: the saturation watch would count it", p.Name, labelRun)
		}
		if p.CreationTimestamp.After(latest) {
			latest = p.CreationTimestamp.Time
		}
	}
	if len(pods.Items) != 3 || len(nodes) != 3 {
		t.Errorf("%d latency pods on nodes %v, want 3 on 3 nodes", len(pods.Items), nodes)
	}
	// The latency pods came after the saturation: none was created before every RC pod ran.
	sat, err := client.CoreV1().Pods(metav1.NamespaceAll).List(t.Context(), metav1.ListOptions{LabelSelector: labelRun})
	if err != nil {
		t.Fatal(err)
	}
	for _, lp := range pods.Items {
		for _, sp := range sat.Items {
			for _, c := range sp.Status.Conditions {
				if c.Type == corev1.PodScheduled && lp.CreationTimestamp.Time.Add(time.Second).Before(c.LastTransitionTime.Time) {
					t.Errorf("latency pod %s created at %s, before saturation pod %s was scheduled (%s)", lp.Name, lp.CreationTimestamp, sp.Name, c.LastTransitionTime)
				}
			}
		}
	}
	t.Logf("table:\n%s", out.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "latency pod startup p50 / p90 / p99") || !strings.Contains(lines[2], "| 3 of 3 |") ||
		!strings.Contains(lines[2], "| 60 of 60 in ") {
		t.Errorf("table:\n%s", out.String())
	}
}
