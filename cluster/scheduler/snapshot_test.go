package scheduler

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

type aggregate struct {
	ReqCPU, ReqMem int64
	Pods           int
	Ports, Owners  int
}

func aggregateOf(ni *NodeInfo) aggregate {
	if ni == nil {
		return aggregate{}
	}
	return aggregate{ni.ReqCPU, ni.ReqMem, ni.Pods, len(ni.ports), len(ni.owners)}
}

func TestSnapshotIncremental(t *testing.T) {
	s := snapshotOf(threeNodes())
	p := newPod("p", withRequests("1", "1Gi"), withHostPort(80, "", ""), ownedBy("rc"), onNode("node-a"))
	s.AddPod(p)
	s.AddPod(p) // the same pod again (an informer resync) is counted once
	if diff := cmp.Diff(aggregate{1000, 1 << 30, 1, 1, 1}, aggregateOf(s.Node("node-a"))); diff != "" {
		t.Fatalf("after add (-want +got):\n%s", diff)
	}
	moved := p.DeepCopy()
	moved.Spec.NodeName = "node-b"
	s.AddPod(moved)
	if diff := cmp.Diff(aggregate{}, aggregateOf(s.Node("node-a"))); diff != "" {
		t.Errorf("node-a after move (-want +got):\n%s", diff)
	}
	if node, ok := s.HasPod(p); !ok || node != "node-b" {
		t.Errorf("HasPod = %q, %v", node, ok)
	}
	s.RemovePod(moved)
	if diff := cmp.Diff(aggregate{}, aggregateOf(s.Node("node-b"))); diff != "" {
		t.Errorf("node-b after remove (-want +got):\n%s", diff)
	}
}

func TestSnapshotPodsOnUnknownNode(t *testing.T) {
	s := NewSnapshot()
	p := newPod("p", withRequests("3", ""), onNode("late"))
	s.AddPod(p) // the pod is seen before its node
	if s.NumNodes() != 0 {
		t.Fatalf("NumNodes = %d before the node exists", s.NumNodes())
	}
	s.SetNode(hollowNode("late"))
	if _, err := Schedule(newPod("q", withRequests("2", "")), s); err == nil || err.Error() != "0/1 nodes are available: 1 Insufficient cpu." {
		t.Fatalf("err = %v; the earlier pod must count", err)
	}
	s.RemoveNode("late")
	if s.NumNodes() != 0 || s.Node("late") == nil {
		t.Fatalf("removed node: NumNodes %d, info %v", s.NumNodes(), s.Node("late"))
	}
	s.RemovePod(p)
	if s.Node("late") != nil {
		t.Error("info of a removed node without pods is kept")
	}
}

func TestSnapshotNodeUpdate(t *testing.T) {
	s := snapshotOf([]*corev1.Node{hollowNode("node-a", withReady(corev1.ConditionFalse))})
	if _, err := Schedule(newPod("p"), s); err == nil {
		t.Fatal("scheduled onto a not-ready node")
	}
	s.SetNode(hollowNode("node-a"))
	if got, err := Schedule(newPod("p"), s); err != nil || got != "node-a" {
		t.Fatalf("after Ready: %q, %v", got, err)
	}
}
