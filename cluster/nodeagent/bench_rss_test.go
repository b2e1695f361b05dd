package nodeagent

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BenchmarkNodeAgentRSS runs `drover node` (CGO_ENABLED=0) as its own process on the real
// engine with 20 running pods and reports its RSS from /proc/PID/status. Target: ≤ 50 MB.
func BenchmarkNodeAgentRSS(b *testing.B) {
	const pods = 20
	rt := benchDocker(b)
	kc, _, client := startServerProc(b)
	node, network := fmt.Sprintf("bench-rss-%d", os.Getpid()), "drover-narss"
	// A network of this name left by an earlier run belongs to that run's cluster, which the
	// node agent refuses to share: remove it before, and after (once the pods are gone).
	_ = rt.Client().NetworkRemove(context.Background(), network)
	b.Cleanup(func() { _ = rt.Client().NetworkRemove(context.Background(), network) })
	b.Cleanup(func() { removeLabelled(rt, map[string]string{LabelNode: node}) })
	b.ResetTimer()
	agent := startProc(b, "node", "node", "--kubeconfig", kc, "--node-name", node, "--network", network,
		"--subnet", "10.94.0.0/16", "--node-ip", "127.0.0.1", "--log-port", "0", "--data-dir", b.TempDir(),
		"--pause-image", benchPauseImage, "--log-level", "warn")
	waitNodeReadyB(b, client, node)
	rssIdle := agent.rssMB(b)
	ctx := context.Background()
	start := time.Now()
	for i := 0; i < pods; i++ {
		pod := benchServerPod(fmt.Sprintf("rss-%d", i))
		pod.Spec.NodeName = node
		if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	running := 0
	for running < pods {
		if time.Since(start) > 3*time.Minute {
			b.Fatalf("%d of %d pods Running after 3 min:\n%s", running, pods, agent.tail())
		}
		time.Sleep(200 * time.Millisecond)
		list, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
		if err != nil {
			b.Fatal(err)
		}
		running = 0
		for _, p := range list.Items {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
	}
	allRunning := time.Since(start)
	time.Sleep(15 * time.Second) // a heartbeat and some relists later
	rss, anon, file := agent.rssMB(b), agent.statusMB(b, "RssAnon"), agent.statusMB(b, "RssFile")
	b.StopTimer()
	b.ReportMetric(rss, "rss-MB")
	// The file-backed part is the (shared) pages of the drover binary; the anonymous part is
	// the agent's heap, stacks and runtime.
	b.ReportMetric(anon, "rss-anon-MB")
	b.ReportMetric(file, "rss-file-MB")
	b.ReportMetric(rssIdle, "rss-idle-MB")
	b.ReportMetric(allRunning.Seconds(), "all-running-s")
	b.Logf("drover node RSS %.1f MB (anonymous %.1f, file %.1f) with %d running pods (%.1f MB with none; target ≤ 50 MB); all Running after %s",
		rss, anon, file, pods, rssIdle, allRunning.Round(time.Millisecond))
	// Delete the pods through the API so the agent removes their containers itself.
	zero := int64(0)
	_ = client.CoreV1().Pods("default").DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if cs, err := rt.List(ctx, map[string]string{LabelNode: node}); err == nil && len(cs) == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.Errorf("the agent left containers a minute after its pods were deleted")
}
