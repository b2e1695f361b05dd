package scheduler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestScheduleHostPorts(t *testing.T) {
	one := []*corev1.Node{hollowNode("node-a")}
	taken := func(port int32, proto corev1.Protocol, ip string) []*corev1.Pod {
		return []*corev1.Pod{newPod("r", withHostPort(port, proto, ip), onNode("node-a"))}
	}
	const busy = "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports."
	runPlacement(t, []placementCase{
		{name: "same port", nodes: one, running: taken(8080, "", ""), pod: newPod("p", withHostPort(8080, "", "")), wantErr: busy},
		{name: "wildcard taken, specific wanted", nodes: one, running: taken(8080, corev1.ProtocolTCP, "0.0.0.0"), pod: newPod("p", withHostPort(8080, "", "10.0.0.1")), wantErr: busy},
		{name: "specific taken, wildcard wanted", nodes: one, running: taken(8080, "", "10.0.0.1"), pod: newPod("p", withHostPort(8080, "", "")), wantErr: busy},
		{name: "same specific IP", nodes: one, running: taken(8080, "", "10.0.0.1"), pod: newPod("p", withHostPort(8080, "", "10.0.0.1")), wantErr: busy},
		{name: "other IP", nodes: one, running: taken(8080, "", "10.0.0.1"), pod: newPod("p", withHostPort(8080, "", "10.0.0.2")), want: "node-a"},
		{name: "other protocol", nodes: one, running: taken(53, corev1.ProtocolUDP, ""), pod: newPod("p", withHostPort(53, corev1.ProtocolTCP, "")), want: "node-a"},
		{name: "other port", nodes: one, running: taken(8080, "", ""), pod: newPod("p", withHostPort(8081, "", "")), want: "node-a"},
		{name: "no host port", nodes: one, running: taken(8080, "", ""), pod: newPod("p"), want: "node-a"},
		{name: "free elsewhere", nodes: threeNodes(), running: []*corev1.Pod{
			newPod("r1", withHostPort(50000, "", ""), onNode("node-a")), newPod("r2", withHostPort(50000, "", ""), onNode("node-c")),
		}, pod: newPod("p", withHostPort(50000, "", "")), want: "node-b"},
	})
}

func TestScheduleNodeSelectorAndAffinity(t *testing.T) {
	nodes := []*corev1.Node{
		hollowNode("node-a", withLabel("zone", "a"), withLabel("cores", "4")),
		hollowNode("node-b", withLabel("zone", "b"), withLabel("cores", "16"), withLabel("ssd", "")),
		hollowNode("node-c", withLabel("zone", "c"), withLabel("cores", "64")),
	}
	const none = "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."
	fields := func(op corev1.NodeSelectorOperator, v ...string) corev1.NodeSelectorTerm {
		return corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: op, Values: v}}}
	}
	both := corev1.NodeSelectorTerm{
		MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a", "b"}}},
		MatchFields:      []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"node-a"}}},
	}
	runPlacement(t, []placementCase{
		{name: "nodeSelector", nodes: nodes, pod: newPod("p", withNodeSelector("zone", "b")), want: "node-b"},
		{name: "nodeSelector unmatched", nodes: nodes, pod: newPod("p", withNodeSelector("zone", "d")), wantErr: none},
		{name: "nodeSelector and affinity both apply", nodes: nodes, pod: newPod("p", withNodeSelector("zone", "a"), withAffinity(expr("ssd", corev1.NodeSelectorOpExists))), wantErr: none},
		{name: "In", nodes: nodes, pod: newPod("p", withAffinity(expr("zone", corev1.NodeSelectorOpIn, "c", "d"))), want: "node-c"},
		{name: "NotIn", nodes: nodes, pod: newPod("p", withAffinity(expr("zone", corev1.NodeSelectorOpNotIn, "a", "c"))), want: "node-b"},
		{name: "Exists", nodes: nodes, pod: newPod("p", withAffinity(expr("ssd", corev1.NodeSelectorOpExists))), want: "node-b"},
		{name: "DoesNotExist", nodes: nodes[:2], pod: newPod("p", withAffinity(expr("ssd", corev1.NodeSelectorOpDoesNotExist))), want: "node-a"},
		{name: "Gt", nodes: nodes, pod: newPod("p", withAffinity(expr("cores", corev1.NodeSelectorOpGt, "16"))), want: "node-c"},
		{name: "Lt", nodes: nodes, pod: newPod("p", withAffinity(expr("cores", corev1.NodeSelectorOpLt, "5"))), want: "node-a"},
		{name: "Gt with a non-number matches nothing", nodes: nodes, pod: newPod("p", withAffinity(expr("cores", corev1.NodeSelectorOpGt, "many"))), wantErr: none},
		{name: "matchFields In", nodes: nodes, pod: newPod("p", withAffinity(fields(corev1.NodeSelectorOpIn, "node-b"))), want: "node-b"},
		{name: "matchFields and expressions ANDed", nodes: nodes, pod: newPod("p", withAffinity(both)), want: "node-b"},
		{name: "terms ORed", nodes: nodes[:2], pod: newPod("p", withAffinity(expr("zone", corev1.NodeSelectorOpIn, "x"), expr("zone", corev1.NodeSelectorOpIn, "b"))), want: "node-b"},
		{name: "empty term matches nothing", nodes: nodes, pod: newPod("p", withAffinity(corev1.NodeSelectorTerm{})), wantErr: none},
	})
}

func TestScheduleFilterOrder(t *testing.T) {
	// Each node is rejected by the first filter that fails, as Kubernetes' framework does.
	nodes := []*corev1.Node{
		hollowNode("node-a", cordoned, withTaint("x", "", corev1.TaintEffectNoSchedule)),
		hollowNode("node-b", withTaint("x", "", corev1.TaintEffectNoSchedule)),
		hollowNode("node-c", withAlloc("1", "1Gi", "110")),
	}
	runPlacement(t, []placementCase{{
		name: "one reason per failing filter", nodes: nodes, pod: newPod("p", withRequests("2", "")),
		wantErr: "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {x: }, 1 node(s) were unschedulable.",
	}})
}
