package scheduler

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

// place schedules the pods one after the other, counting each where it went (as the controller
// assumes it), and returns how many landed on each node.
func place(t *testing.T, s *Snapshot, pods []*corev1.Pod) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, p := range pods {
		node, err := Schedule(p, s)
		if err != nil {
			t.Fatalf("Schedule(%s): %v", p.Name, err)
		}
		p.Spec.NodeName = node
		s.AddPod(p)
		got[node]++
	}
	return got
}

func TestScoreLeastRequested(t *testing.T) {
	s := snapshotOf(threeNodes(),
		newPod("r1", withRequests("2", "4Gi"), onNode("node-a")),
		newPod("r2", withRequests("1", "1Gi"), onNode("node-b")),
		newPod("r3", withRequests("3", "1Gi"), onNode("node-c")),
	)
	if got, err := Schedule(newPod("p", withRequests("500m", "512Mi")), s); err != nil || got != "node-b" {
		t.Fatalf("Schedule = %q, %v; want node-b (most free)", got, err)
	}
	// a bigger node wins over equally loaded smaller ones
	s.SetNode(hollowNode("node-d", withAlloc("32", "64Gi", "110")))
	if got, err := Schedule(newPod("p", withRequests("500m", "512Mi")), s); err != nil || got != "node-d" {
		t.Fatalf("Schedule = %q, %v; want node-d", got, err)
	}
}

func TestScoreLeastRequestedFillsEvenly(t *testing.T) {
	// Pods of no controller with requests spread evenly by free resources alone.
	var pods []*corev1.Pod
	for i := range 12 {
		pods = append(pods, newPod(fmt.Sprintf("p%d", i), withRequests("250m", "512Mi")))
	}
	got := place(t, snapshotOf(threeNodes()), pods)
	if diff := cmp.Diff(map[string]int{"node-a": 4, "node-b": 4, "node-c": 4}, got); diff != "" {
		t.Errorf("placement (-want +got):\n%s", diff)
	}
}

func TestScoreSpreadsAController(t *testing.T) {
	// Big nodes: the requests barely move the least-requested score, spreading decides.
	nodes := threeNodes(withAlloc("64", "256Gi", "110"))
	// node-a already runs unrelated pods; the RC's pods still spread 2/2/2.
	s := snapshotOf(nodes, newPod("x1", onNode("node-a")), newPod("x2", onNode("node-a")))
	var pods []*corev1.Pod
	for i := range 6 {
		pods = append(pods, newPod(fmt.Sprintf("agent-%d", i), ownedBy("rc-agents")))
	}
	got := place(t, s, pods)
	if diff := cmp.Diff(map[string]int{"node-a": 2, "node-b": 2, "node-c": 2}, got); diff != "" {
		t.Errorf("placement (-want +got):\n%s", diff)
	}
	// another controller's pods are not pushed away by these
	st := newPodState(newPod("other", ownedBy("rc-other")))
	for _, ni := range s.nodeList() {
		if sc := st.spread(ni, 0); sc != maxNodeScore {
			t.Errorf("spread score of %s for another controller = %d", ni.Node.Name, sc)
		}
	}
}

func TestScoreSpreadBeatsEmptiness(t *testing.T) {
	// node-a is emptier but already runs one of the RC's pods: the next goes elsewhere.
	nodes := threeNodes(withAlloc("64", "256Gi", "110"))
	s := snapshotOf(nodes,
		newPod("agent-0", ownedBy("rc"), onNode("node-a")),
		newPod("busy-b", withRequests("4", "16Gi"), onNode("node-b")),
		newPod("busy-c", withRequests("4", "16Gi"), onNode("node-c")),
	)
	got, err := Schedule(newPod("agent-1", ownedBy("rc")), s)
	if err != nil || got == "node-a" {
		t.Fatalf("Schedule = %q, %v; want node-b or node-c", got, err)
	}
}

func TestTieBreak(t *testing.T) {
	nodes := threeNodes(withAlloc("1000", "1000Gi", "1000"))
	s := snapshotOf(nodes)
	p := newPod("same")
	first, _ := Schedule(p, s)
	for range 10 {
		if got, _ := Schedule(p, s); got != first {
			t.Fatalf("tie broken differently for the same pod: %s then %s", first, got)
		}
	}
	// Pods without requests or controller tie on every node: the choice spreads them.
	counts := map[string]int{}
	for i := range 300 {
		got, err := Schedule(newPod(fmt.Sprintf("p%d", i)), s)
		if err != nil {
			t.Fatal(err)
		}
		counts[got]++
	}
	for _, n := range []string{"node-a", "node-b", "node-c"} {
		if counts[n] < 60 {
			t.Errorf("tie break is skewed: %v", counts)
		}
	}
}
