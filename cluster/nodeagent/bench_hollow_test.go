package nodeagent

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// BenchmarkHollowNodes runs `drover node --runtime=hollow --count N` (N = DROVER_HOLLOW_NODES,
// default 500) against a `drover server --store memory://`, waits until all N Nodes are Ready
// and reports the node process's RSS per node. Target: ≤ 5 MB per node.
func BenchmarkHollowNodes(b *testing.B) {
	n := 500
	if v, err := strconv.Atoi(os.Getenv("DROVER_HOLLOW_NODES")); err == nil && v > 0 {
		n = v
	}
	kc, _, client := startServerProc(b)
	dir := b.TempDir()
	b.ResetTimer()
	start := time.Now()
	node := startProc(b, "hollow", "node", "--kubeconfig", kc, "--runtime=hollow", "--count", strconv.Itoa(n),
		"--node-name", "hollow", "--log-port", "0", "--data-dir", dir, "--log-level", "warn")
	ready := 0
	for ready < n {
		if time.Since(start) > 10*time.Minute {
			b.Fatalf("%d of %d hollow nodes Ready after 10 min:\n%s", ready, n, node.tail())
		}
		if node.cmd.ProcessState != nil {
			b.Fatalf("drover node exited:\n%s", node.tail())
		}
		time.Sleep(time.Second)
		list, err := client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{LabelSelector: "drover.io/hollow=true"})
		if err != nil {
			b.Fatal(err)
		}
		ready = 0
		for i := range list.Items {
			if nodeReady(&list.Items[i]) {
				ready++
			}
		}
	}
	allReady := time.Since(start)
	rssReady := node.rssMB(b)
	// Steady state: a few heartbeats later, all leases fresh and the RSS again.
	time.Sleep(30 * time.Second)
	stale := staleLeases(b, client, n, 20*time.Second)
	rss := node.rssMB(b)
	b.StopTimer()
	b.ReportMetric(float64(n), "nodes")
	b.ReportMetric(allReady.Seconds(), "all-ready-s")
	b.ReportMetric(rss, "rss-MB")
	b.ReportMetric(rss/float64(n), "rss-MB/node")
	b.ReportMetric(float64(stale), "stale-leases")
	b.Logf("%d hollow nodes Ready in %s; RSS %.1f MB when Ready, %.1f MB 30 s later (%.2f MB/node); %d leases older than 20 s",
		n, allReady.Round(time.Millisecond), rssReady, rss, rss/float64(n), stale)
	if rss/float64(n) > 5 {
		b.Logf("over the 5 MB/node target")
	}
	if stale > 0 {
		b.Logf("%d of %d Leases not renewed in the last 20 s: the process does not keep up with the heartbeats "+
			"(each renewal is one API request; all hollow nodes of `drover node` share one client rate limit)", stale, n)
	}
}

// staleLeases counts the hollow nodes without a Lease renewed within maxAge.
func staleLeases(b *testing.B, client kubernetes.Interface, n int, maxAge time.Duration) int {
	list, err := client.CoordinationV1().Leases("kube-node-lease").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	fresh := 0
	for _, l := range list.Items {
		if strings.HasPrefix(l.Name, "hollow-") && l.Spec.RenewTime != nil && time.Since(l.Spec.RenewTime.Time) <= maxAge {
			fresh++
		}
	}
	return n - fresh
}
