package hatest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cluster/store/consulstore/consultest"
	"github.com/drover-ci/drover/internal/hatest"
)

// benchPods is how many pods BenchmarkConsulWritesPerPod takes through their lifecycle (it
// ignores b.N: run it with -benchtime 1x).
const benchPods = 20

// BenchmarkConsulWritesPerPod counts the Consul KV writes of a pod's lifecycle (create →
// scheduled → running → deleted, default 30 s grace, finished by the node agent) with a counting
// proxy in front of Consul's HTTP API: one drover server with its controllers, one hollow
// node. Figures per pod: writes to the pod's own key, Event writes, and all writes less the
// idle background (Lease renewals, node status) measured before. The writes to one pod's key
// are logged by kind.
func BenchmarkConsulWritesPerPod(b *testing.B) {
	agent := consultest.Start(b)
	pfx := prefix("writes")
	proxy := startCountingProxy(b, agent.Addr, pfx)
	c := hatest.Start(b, hatest.Options{Bin: droverBin, Servers: 1, Store: "consul://" + proxy.Addr() + "/" + pfx})
	cs := c.Client("")
	if _, err := c.WaitLeader(context.Background(), nil, 60*time.Second); err != nil {
		b.Fatal(err)
	}
	c.StartHollowNodes(b, "wpp", 1)
	waitNodesReady(b, cs, 1)
	time.Sleep(3 * time.Second) // the controllers' start-up writes settle

	proxy.take()
	idleStart := time.Now()
	time.Sleep(20 * time.Second)
	idle := proxy.take()
	idleRate := float64(len(idle)) / time.Since(idleStart).Seconds()

	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < benchPods; i++ {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("wpp-%02d", i)},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "drover/testserver:1"}}}}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	if err := retry(120*time.Second, func(ctx context.Context) error {
		pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		running := 0
		for _, p := range pods.Items {
			if strings.HasPrefix(p.Name, "wpp-") && p.Status.Phase == corev1.PodRunning && podReady(&p) {
				running++
			}
		}
		if running < benchPods {
			return fmt.Errorf("%d of %d pods running", running, benchPods)
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < benchPods; i++ {
		if err := cs.CoreV1().Pods("default").Delete(ctx, fmt.Sprintf("wpp-%02d", i), metav1.DeleteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	if err := retry(120*time.Second, func(ctx context.Context) error {
		pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if n := len(pods.Items); n > 0 {
			return fmt.Errorf("%d pods left", n)
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	writes := proxy.take()

	byResource := map[string]int{}
	perPod := map[string][]consulWrite{}
	reasons := map[string]int{}
	for _, w := range writes {
		byResource[resourceOf(w.Key)]++
		var ev corev1.Event
		if resourceOf(w.Key) == "core/events" && json.Unmarshal(w.Value, &ev) == nil {
			reasons[ev.Source.Component+" "+ev.Reason]++
		}
		if strings.HasPrefix(w.Key, "core/pods/default/wpp-") {
			perPod[w.Key] = append(perPod[w.Key], w)
		}
	}
	kinds := map[string]int{}
	for _, ws := range perPod {
		for _, k := range describeWrites(ws) {
			kinds[k]++
		}
	}
	podWrites := byResource["core/pods"]
	background := idleRate * elapsed.Seconds()
	b.ReportMetric(float64(podWrites)/benchPods, "pod-key-writes/pod")
	b.ReportMetric(float64(byResource["core/events"])/benchPods, "event-writes/pod")
	b.ReportMetric((float64(len(writes))-background)/benchPods, "consul-writes/pod")
	b.Logf("%d pods in %v: %d Consul KV writes (idle background %.1f/s → ~%.0f), by resource %v",
		benchPods, elapsed.Round(time.Millisecond), len(writes), idleRate, background, byResource)
	b.Logf("Event writes by source and reason: %s", formatCounts(reasons))
	b.Logf("writes to the pods' own keys by kind (all %d pods): %s", benchPods, formatCounts(kinds))
	if ws := perPod["core/pods/default/wpp-00"]; len(ws) > 0 {
		b.Logf("pod wpp-00: %s", strings.Join(describeWrites(ws), " → "))
	}
}

// describeWrites names each write of one pod's key: create, binding, status (phase, ready),
// graceful delete (deletionTimestamp), final delete.
func describeWrites(ws []consulWrite) []string {
	var out []string
	var prev *corev1.Pod
	for _, w := range ws {
		if strings.HasPrefix(w.Verb, "delete") || w.Verb == "DELETE" {
			out = append(out, "final delete")
			prev = nil
			continue
		}
		var p corev1.Pod
		if err := json.Unmarshal(w.Value, &p); err != nil {
			out = append(out, "write ("+w.Verb+")")
			continue
		}
		switch {
		case prev == nil || w.Index == 0:
			out = append(out, "create")
		case prev.Spec.NodeName == "" && p.Spec.NodeName != "":
			out = append(out, "binding")
		case prev.DeletionTimestamp == nil && p.DeletionTimestamp != nil:
			out = append(out, "graceful delete (deletionTimestamp)")
		case !reflect.DeepEqual(prev.Status, p.Status):
			out = append(out, fmt.Sprintf("status %s ready=%v", p.Status.Phase, podReady(&p)))
		default:
			out = append(out, "other update")
		}
		prev = &p
	}
	return out
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func formatCounts(m map[string]int) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// BenchmarkControllerHandover kills (-9) the controller leader of three drover servers over
// one Consul ten times, with the manager's default Lease settings, and reports the time from
// the kill to another server holding the Lease and to the first controller action (a pod for
// an RC created right after the kill). It ignores b.N: run it with -benchtime 1x.
func BenchmarkControllerHandover(b *testing.B) {
	const rounds = 10
	c, cs := startHA(b, "handover")
	var lease, acted []time.Duration
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < rounds; i++ {
		leader, err := c.WaitLeader(ctx, nil, 30*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		name := fmt.Sprintf("handover-%d", i)
		killed := time.Now()
		leader.Kill()
		if err := retry(20*time.Second, func(ctx context.Context) error {
			_, err := cs.CoreV1().ReplicationControllers("default").Create(ctx, rc(name, 1), metav1.CreateOptions{})
			return err
		}); err != nil {
			b.Fatal(err)
		}
		if _, err := c.WaitLeader(ctx, leader, 60*time.Second); err != nil {
			b.Fatal(err)
		}
		lease = append(lease, time.Since(killed))
		if err := retry(60*time.Second, func(ctx context.Context) error {
			pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
			if err != nil {
				return err
			}
			if len(pods.Items) == 0 {
				return fmt.Errorf("no pod for %s yet", name)
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		acted = append(acted, time.Since(killed))
		b.Logf("round %d: Lease taken %v, first pod of the new RC %v after the kill",
			i, lease[i].Round(time.Millisecond), acted[i].Round(time.Millisecond))
		if err := leader.Start(); err != nil {
			b.Fatal(err)
		}
		if err := leader.WaitReady(60 * time.Second); err != nil {
			b.Fatal(err)
		}
		_ = cs.CoreV1().ReplicationControllers("default").Delete(ctx, name, metav1.DeleteOptions{})
	}
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(percentile(lease, 0.5)), "lease-p50-ms")
	b.ReportMetric(ms(percentile(lease, 1)), "lease-max-ms")
	b.ReportMetric(ms(percentile(acted, 0.5)), "p50-ms")
	b.ReportMetric(ms(percentile(acted, 1)), "max-ms")
}
