package scheduler

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

type placementCase struct {
	name    string
	nodes   []*corev1.Node
	running []*corev1.Pod
	pod     *corev1.Pod
	want    string // node name, "" when the pod must not fit
	wantErr string
}

func runPlacement(t *testing.T, cases []placementCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Schedule(tc.pod, snapshotOf(tc.nodes, tc.running...))
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("Schedule = %q, %v; want error %q", got, err, tc.wantErr)
				}
				if !IsUnschedulable(err) {
					t.Errorf("IsUnschedulable(%v) = false", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Schedule = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestScheduleNodeConditions(t *testing.T) {
	runPlacement(t, []placementCase{{
		name:  "only the schedulable node",
		nodes: []*corev1.Node{hollowNode("node-a", cordoned), hollowNode("node-b"), hollowNode("node-c", cordoned)},
		pod:   newPod("p"), want: "node-b",
	}, {
		name:    "all cordoned",
		nodes:   threeNodes(cordoned),
		pod:     newPod("p"),
		wantErr: "0/3 nodes are available: 3 node(s) were unschedulable.",
	}, {
		name:  "cordoned node tolerated",
		nodes: []*corev1.Node{hollowNode("node-a", cordoned)},
		pod:   newPod("p", withToleration(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule)), want: "node-a",
	}, {
		name:    "not ready and unknown nodes carry the condition taints",
		nodes:   []*corev1.Node{hollowNode("node-a", withReady(corev1.ConditionFalse)), hollowNode("node-b", withReady(corev1.ConditionUnknown)), hollowNode("node-c", withReady(corev1.ConditionUnknown))},
		pod:     newPod("p"),
		wantErr: "0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 2 node(s) had untolerated taint {node.kubernetes.io/unreachable: }.",
	}, {
		name:  "only the ready node",
		nodes: []*corev1.Node{hollowNode("node-a", withReady(corev1.ConditionFalse)), hollowNode("node-b", withReady(corev1.ConditionUnknown)), hollowNode("node-c")},
		pod:   newPod("p"), want: "node-c",
	}, {
		name: "unreachable taints of the node lifecycle controller",
		nodes: []*corev1.Node{hollowNode("node-a", withReady(corev1.ConditionUnknown),
			withTaint(corev1.TaintNodeUnreachable, "", corev1.TaintEffectNoExecute), withTaint(corev1.TaintNodeUnreachable, "", corev1.TaintEffectNoSchedule))},
		// the default NoExecute toleration does not let a pod onto an unreachable node
		pod:     newPod("p", withToleration(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute)),
		wantErr: "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }.",
	}, {
		name:  "not ready tolerated",
		nodes: []*corev1.Node{hollowNode("node-a", withReady(corev1.ConditionFalse))},
		pod:   newPod("p", withToleration(corev1.TaintNodeNotReady, "")), want: "node-a",
	}, {
		name:    "user taint with value",
		nodes:   []*corev1.Node{hollowNode("node-a", withTaint("dedicated", "jenkins", corev1.TaintEffectNoSchedule)), hollowNode("node-b", withTaint("gpu", "", corev1.TaintEffectNoExecute))},
		pod:     newPod("p"),
		wantErr: "0/2 nodes are available: 1 node(s) had untolerated taint {dedicated: jenkins}, 1 node(s) had untolerated taint {gpu: }.",
	}, {
		name:  "PreferNoSchedule does not filter",
		nodes: []*corev1.Node{hollowNode("node-a", withTaint("soft", "", corev1.TaintEffectPreferNoSchedule))},
		pod:   newPod("p"), want: "node-a",
	}, {
		name:  "tolerated taint",
		nodes: []*corev1.Node{hollowNode("node-a", withTaint("dedicated", "jenkins", corev1.TaintEffectNoSchedule)), hollowNode("node-b", cordoned)},
		pod:   newPod("p", withToleration("dedicated", corev1.TaintEffectNoSchedule)), want: "node-a",
	}})
}

func TestScheduleNoNodes(t *testing.T) {
	_, err := Schedule(newPod("p"), NewSnapshot())
	if !errors.Is(err, ErrNoNodesAvailable) || err.Error() != "no nodes available to schedule pods" {
		t.Fatalf("err = %v", err)
	}
}

func TestScheduleResources(t *testing.T) {
	big := hollowNode("node-c", withAlloc("16", "64Gi", "110"))
	runPlacement(t, []placementCase{{
		name:    "memory: the message of the issue",
		nodes:   []*corev1.Node{hollowNode("node-a"), hollowNode("node-b"), hollowNode("node-c", withLabel("disk", "hdd"))},
		pod:     newPod("p", withRequests("", "10Gi"), withNodeSelector("disk", "hdd")),
		wantErr: "0/3 nodes are available: 1 Insufficient memory, 2 node(s) didn't match Pod's node affinity/selector.",
	}, {
		name:    "cpu and memory both counted",
		nodes:   []*corev1.Node{hollowNode("node-a"), hollowNode("node-b", withAlloc("64", "1Gi", "110")), hollowNode("node-c", withAlloc("1", "1Gi", "110"))},
		pod:     newPod("p", withRequests("5", "2Gi")),
		wantErr: "0/3 nodes are available: 2 Insufficient cpu, 2 Insufficient memory.",
	}, {
		name:    "requests of running pods are subtracted",
		nodes:   []*corev1.Node{hollowNode("node-a"), hollowNode("node-b")},
		running: []*corev1.Pod{newPod("r1", withRequests("3", ""), onNode("node-a")), newPod("r2", withRequests("3500m", ""), onNode("node-b"))},
		pod:     newPod("p", withRequests("1", "")),
		want:    "node-a",
	}, {
		name:    "exact fit",
		nodes:   []*corev1.Node{hollowNode("node-a")},
		running: []*corev1.Pod{newPod("r1", withRequests("3", "4Gi"), onNode("node-a"))},
		pod:     newPod("p", withRequests("1", "4Gi")),
		want:    "node-a",
	}, {
		name:    "too many pods",
		nodes:   []*corev1.Node{hollowNode("node-a", withAlloc("4", "8Gi", "2")), hollowNode("node-b", withAlloc("4", "8Gi", "1"))},
		running: []*corev1.Pod{newPod("r1", onNode("node-a")), newPod("r2", onNode("node-a")), newPod("r3", onNode("node-b"))},
		pod:     newPod("p"),
		wantErr: "0/2 nodes are available: 2 Too many pods.",
	}, {
		name:  "init container larger than the containers",
		nodes: []*corev1.Node{hollowNode("node-a"), big},
		pod: newPod("p", withRequests("1", "1Gi"), func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "x", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceMemory: big.Status.Allocatable[corev1.ResourceMemory]}}}}
		}),
		want: "node-c",
	}, {
		name:  "pods without requests always fit resources",
		nodes: []*corev1.Node{hollowNode("node-a", withAlloc("0", "0", "110"))},
		pod:   newPod("p"),
		want:  "node-a",
	}})
}

func TestPodRequests(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	p := newPod("p", withRequests("500m", "1Gi"), func(p *corev1.Pod) {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "none"})
		p.Spec.InitContainers = []corev1.Container{
			{Name: "sidecar", RestartPolicy: &always, Resources: corev1.ResourceRequirements{Requests: listOf("100m", "128Mi")}},
			{Name: "init", Resources: corev1.ResourceRequirements{Requests: listOf("2", "64Mi")}},
		}
	})
	if got, want := podRequests(p, false), (requests{cpu: 2100, mem: 1<<30 + 128<<20}); got != want {
		t.Errorf("podRequests = %+v, want %+v", got, want)
	}
	// the container without requests counts 100m and 200Mi when scoring
	if got, want := podRequests(p, true), (requests{cpu: 2100, mem: 1<<30 + 128<<20 + 200<<20}); got != want {
		t.Errorf("podRequests(nonZero) = %+v, want %+v", got, want)
	}
}
