package drain_test

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/internal/uptest"
)

// kubectl runs the real kubectl against one drover.
type kubectl struct {
	t          testing.TB
	kubeconfig string
}

func (k *kubectl) run(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", k.kubeconfig}, args...)...).CombinedOutput()
	return string(out), err
}

func (k *kubectl) must(args ...string) string {
	k.t.Helper()
	out, err := k.run(2*time.Minute, args...)
	if err != nil {
		k.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// startCluster runs drover up (its Docker node) and three hollow nodes.
func startCluster(t *testing.T) (*uptest.Env, *kubectl, *uptest.Hollow) {
	t.Helper()
	env := uptest.Start(t, uptest.Options{Name: "drain", Subnet: "10.141.0.0/16", ServiceCIDR: "10.142.0.0/16",
		ClusterDNS: "10.143.0.10", NodePortRange: "32800-32849", NeedKubectl: true, Images: []string{"drover/testserver:1"}})
	hollow := env.StartHollowNodes(t, "drain-h", 3)
	return env, &kubectl{t: t, kubeconfig: env.Kubeconfig}, hollow
}

// daemonPodsByNode maps node names to the live pods of app=node-agent bound to them.
func daemonPodsByNode(t *testing.T, cs kubernetes.Interface) map[string][]string {
	t.Helper()
	list, err := cs.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{LabelSelector: "app=node-agent"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil && p.Spec.NodeName != "" {
			out[p.Spec.NodeName] = append(out[p.Spec.NodeName], p.Name)
		}
	}
	return out
}

// onePodOn waits until exactly the nodes given each run one daemon pod, all Running, and the
// DaemonSet's status says so.
func onePodOn(t *testing.T, cs kubernetes.Interface, nodes []string) {
	t.Helper()
	want := slices.Clone(nodes)
	sort.Strings(want)
	var last map[string][]string
	var st appsv1.DaemonSetStatus
	uptest.Eventually(t, 90*time.Second, "one node-agent pod on each of "+strings.Join(want, ", "), func() bool {
		last = daemonPodsByNode(t, cs)
		var got []string
		for n, pods := range last {
			if len(pods) != 1 {
				return false
			}
			got = append(got, n)
		}
		sort.Strings(got)
		ds, err := cs.AppsV1().DaemonSets("default").Get(t.Context(), "node-agent", metav1.GetOptions{})
		if err != nil {
			return false
		}
		st = ds.Status
		n := int32(len(want))
		return slices.Equal(got, want) && st.DesiredNumberScheduled == n && st.CurrentNumberScheduled == n &&
			st.NumberAvailable == n && st.NumberMisscheduled == 0 && st.ObservedGeneration == ds.Generation
	})
	t.Logf("node-agent pods %v, status %+v", last, st)
}

// TestDaemonSetFollowsNodes: a DaemonSet on the Docker node and three hollow nodes gets one
// pod on each; a fourth node gets one; a node removed loses its pod; a template change rolls
// out (kubectl rollout status returns, two revisions in kubectl rollout history).
func TestDaemonSetFollowsNodes(t *testing.T) {
	env, k, hollow := startCluster(t)
	cs := env.Client
	k.must("apply", "-f", "node-agent.yaml")
	nodes := append([]string{env.Node}, hollow.Nodes...)
	onePodOn(t, cs, nodes)
	k.must("rollout", "status", "ds/node-agent", "--timeout=60s")

	fourth := env.StartHollowNodes(t, "drain-x", 1)
	onePodOn(t, cs, append(slices.Clone(nodes), fourth.Nodes...))

	fourth.Stop()
	k.must("delete", "node", fourth.Nodes[0])
	onePodOn(t, cs, nodes)

	k.must("set", "env", "ds/node-agent", "ROLLED=1")
	out := k.must("rollout", "status", "ds/node-agent", "--timeout=90s")
	if !strings.Contains(out, `daemon set "node-agent" successfully rolled out`) {
		t.Fatalf("rollout status:\n%s", out)
	}
	list, err := cs.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{LabelSelector: "app=node-agent"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil && (len(p.Spec.Containers[0].Env) != 1 || p.Spec.Containers[0].Env[0].Name != "ROLLED") {
			t.Errorf("pod %s on %s not updated: env %v", p.Name, p.Spec.NodeName, p.Spec.Containers[0].Env)
		}
	}
	onePodOn(t, cs, nodes)
	hist := k.must("rollout", "history", "ds/node-agent")
	if !strings.Contains(hist, "\n1 ") || !strings.Contains(hist, "\n2 ") {
		t.Errorf("rollout history lacks revisions 1 and 2:\n%s", hist)
	}
	// Undo brings the first template back (as revision 3) on every node.
	k.must("rollout", "undo", "ds/node-agent")
	k.must("rollout", "status", "ds/node-agent", "--timeout=90s")
	onePodOn(t, cs, nodes)
	list, err = cs.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{LabelSelector: "app=node-agent"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil && len(p.Spec.Containers[0].Env) != 0 {
			t.Errorf("pod %s on %s still has env %v after the undo", p.Name, p.Spec.NodeName, p.Spec.Containers[0].Env)
		}
	}
}

// availability follows the pods of app=web through a watch and keeps the fewest Ready ones
// not being deleted seen at any event.
type availability struct {
	mu     sync.Mutex
	pods   map[string]bool // name → Ready and not terminating
	fewest int
	log    []string // every event, for the failure message
}

func (a *availability) observe(p *corev1.Pod, deleted bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ready := false
	for _, c := range p.Status.Conditions {
		ready = ready || (c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue)
	}
	a.pods[p.Name] = !deleted && p.DeletionTimestamp == nil && ready
	n := 0
	for _, ok := range a.pods {
		if ok {
			n++
		}
	}
	a.fewest = min(a.fewest, n)
	a.log = append(a.log, fmt.Sprintf("%s %s deleted=%v terminating=%v ready=%v node=%s → %d available",
		time.Now().Format("15:04:05.000"), p.Name, deleted, p.DeletionTimestamp != nil, ready, p.Spec.NodeName, n))
}

// TestDrainHonoursDisruptionBudget: kubectl drain of the Docker node, which runs all three pods
// of a Deployment whose PodDisruptionBudget wants 2 available, evicts them one at a
// time (the eviction subresource answers 429 until a replacement is Ready on a hollow node), so
// that never fewer than 2 are available; --dry-run=server returns without changing anything.
func TestDrainHonoursDisruptionBudget(t *testing.T) {
	env, k, hollow := startCluster(t)
	cs := env.Client
	ctx := t.Context()
	k.must(append([]string{"cordon"}, hollow.Nodes...)...)
	k.must("apply", "-f", "web-deployment.yaml")
	uptest.Eventually(t, 90*time.Second, "3 web pods Ready on "+env.Node, func() bool {
		return readyOn(t, cs, env.Node) == 3
	})
	k.must(append([]string{"uncordon"}, hollow.Nodes...)...)
	k.must("apply", "-f", "web-pdb.yaml")
	uptest.Eventually(t, 60*time.Second, "pdb web allows 1 disruption", func() bool {
		pdb, err := cs.PolicyV1().PodDisruptionBudgets("default").Get(ctx, "web", metav1.GetOptions{})
		return err == nil && pdb.Status.DisruptionsAllowed == 1 && pdb.Status.CurrentHealthy == 3 && pdb.Status.DesiredHealthy == 2
	})

	out, err := k.run(90*time.Second, "drain", env.Node, "--ignore-daemonsets", "--delete-emptydir-data", "--dry-run=server")
	if err != nil {
		t.Fatalf("drain --dry-run=server: %v\n%s", err, out)
	}
	t.Logf("drain --dry-run=server:\n%s", out)
	node, err := cs.CoreV1().Nodes().Get(ctx, env.Node, metav1.GetOptions{})
	if err != nil || node.Spec.Unschedulable || readyOn(t, cs, env.Node) != 3 {
		t.Fatalf("dry run changed the cluster: unschedulable %v, %d web pods Ready on the node (err %v)", node.Spec.Unschedulable, readyOn(t, cs, env.Node), err)
	}

	pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	avail := &availability{pods: map[string]bool{}, fewest: 3}
	for i := range pods.Items {
		avail.observe(&pods.Items[i], false)
	}
	avail.fewest = 3 // the three pods seen, not the count while they were being added
	w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: "app=web", ResourceVersion: pods.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for ev := range w.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok {
				avail.observe(p, ev.Type == watch.Deleted)
			}
		}
	}()
	start := time.Now()
	out, err = k.run(4*time.Minute, "drain", env.Node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=3m")
	w.Stop()
	<-watched
	if err != nil {
		diag, _ := k.run(30*time.Second, "get", "pods,pdb,nodes", "-o", "wide")
		pdb, _ := k.run(30*time.Second, "get", "pdb", "web", "-o", "yaml")
		ev, _ := k.run(30*time.Second, "get", "events")
		t.Fatalf("drain: %v\n%s\n%s\n%s\n%s", err, out, diag, pdb, ev)
	}
	t.Logf("drain took %s:\n%s", time.Since(start).Round(time.Second), out)
	if !strings.Contains(out, "Cannot evict pod as it would violate the pod's disruption budget.") {
		t.Errorf("drain never waited for the budget (no 429 retried):\n%s", out)
	}
	if !strings.Contains(out, "node/"+env.Node+" drained") {
		t.Errorf("drain output lacks the drained line:\n%s", out)
	}
	if avail.fewest < 2 {
		t.Errorf("only %d web pods were available at one point, the budget wants 2:\n%s", avail.fewest, strings.Join(avail.log, "\n"))
	}
	if n := readyOn(t, cs, env.Node); n != 0 {
		t.Errorf("%d web pods still on the drained node", n)
	}
	uptest.Eventually(t, 60*time.Second, "3 web pods Ready on the hollow nodes", func() bool {
		n := 0
		for _, h := range hollow.Nodes {
			n += readyOn(t, cs, h)
		}
		return n == 3
	})
}

// readyOn counts the web pods bound to node that are Ready and not being deleted.
func readyOn(t *testing.T, cs kubernetes.Interface, node string) int {
	t.Helper()
	list, err := cs.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range list.Items {
		if p.Spec.NodeName != node || p.DeletionTimestamp != nil {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				n++
			}
		}
	}
	return n
}
