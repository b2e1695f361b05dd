package scheduler

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Reasons a node does not fit, worded as Kubernetes 1.32's scheduler plugins word them.
const (
	ReasonUnschedulable   = "node(s) were unschedulable"
	ReasonNodeAffinity    = "node(s) didn't match Pod's node affinity/selector"
	ReasonPorts           = "node(s) didn't have free ports for the requested pod ports"
	ReasonTooManyPods     = "Too many pods"
	ReasonInsufficientCPU = "Insufficient cpu"
	ReasonInsufficientMem = "Insufficient memory"
	ReasonVolumeAffinity  = "node(s) had volume node affinity conflict"
	ReasonUnboundPVC      = "pod has unbound immediate PersistentVolumeClaims"
)

// untoleratedTaint is the reason for a NoSchedule/NoExecute taint the pod does not tolerate.
func untoleratedTaint(t *corev1.Taint) string {
	return fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.Key, t.Value)
}

// podState is what Schedule works out about a pod once, before it looks at the nodes.
type podState struct {
	pod      *corev1.Pod
	req      requests
	nz       requests
	ports    []hostPort
	owner    string
	selector labels.Selector // spec.nodeSelector, nil if none
	affinity *nodeMatcher    // required node affinity, nil if none
	volumes  []*nodeMatcher  // node affinity of the bound PVs the pod uses
}

func newPodState(pod *corev1.Pod) *podState {
	st := &podState{pod: pod, req: podRequests(pod, false), nz: podRequests(pod, true),
		ports: podHostPorts(pod), owner: controllerUID(pod)}
	if len(pod.Spec.NodeSelector) > 0 {
		st.selector = labels.SelectorFromSet(pod.Spec.NodeSelector)
	}
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		st.affinity = compileNodeSelector(a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution)
	}
	return st
}

// filter returns why the node does not fit the pod (nil if it does). Like Kubernetes' default
// profile it stops at the first plugin that rejects the node: NodeUnschedulable,
// TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit, VolumeBinding.
func (st *podState) filter(ni *NodeInfo) []string {
	node := ni.Node
	if node.Spec.Unschedulable && !tolerates(st.pod, &corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}) {
		return []string{ReasonUnschedulable}
	}
	if t := st.untolerated(ni); t != nil {
		return []string{untoleratedTaint(t)}
	}
	if !st.matchesNode(node) {
		return []string{ReasonNodeAffinity}
	}
	if st.portConflict(ni) {
		return []string{ReasonPorts}
	}
	if r := st.insufficient(ni); r != nil {
		return r
	}
	for _, v := range st.volumes {
		if !v.matches(node) {
			return []string{ReasonVolumeAffinity}
		}
	}
	return nil
}

// untolerated is the first NoSchedule/NoExecute taint of the node the pod does not tolerate.
// A node whose Ready condition is not True carries, as with Kubernetes' TaintNodesByCondition,
// node.kubernetes.io/not-ready (Ready=False) or node.kubernetes.io/unreachable (Unknown) NoSchedule.
func (st *podState) untolerated(ni *NodeInfo) *corev1.Taint {
	taints := ni.Node.Spec.Taints
	for i := range taints {
		t := &taints[i]
		if (t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute) && !tolerates(st.pod, t) {
			return t
		}
	}
	if ni.ready {
		return nil
	}
	t := &corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule}
	if readyStatus(ni.Node) == corev1.ConditionFalse {
		t.Key = corev1.TaintNodeNotReady
	}
	if tolerates(st.pod, t) {
		return nil
	}
	return t
}

func tolerates(pod *corev1.Pod, t *corev1.Taint) bool {
	for i := range pod.Spec.Tolerations {
		if pod.Spec.Tolerations[i].ToleratesTaint(t) {
			return true
		}
	}
	return false
}

func readyStatus(node *corev1.Node) corev1.ConditionStatus {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}

func (st *podState) matchesNode(node *corev1.Node) bool {
	if st.selector != nil && !st.selector.Matches(labels.Set(node.Labels)) {
		return false
	}
	return st.affinity == nil || st.affinity.matches(node)
}

// portConflict: a wanted host port is taken for the same protocol on the same IP, or either
// side binds 0.0.0.0.
func (st *podState) portConflict(ni *NodeInfo) bool {
	if len(st.ports) == 0 || len(ni.ports) == 0 {
		return false
	}
	for _, want := range st.ports {
		for used := range ni.ports {
			if want.clashes(used) {
				return true
			}
		}
	}
	return false
}

// clashes: the same port and protocol on the same IP, or either side binds 0.0.0.0.
func (want hostPort) clashes(used hostPort) bool {
	return used.port == want.port && used.protocol == want.protocol &&
		(used.ip == want.ip || used.ip == wildcardIP || want.ip == wildcardIP)
}

// HasHostPorts reports whether one of pod's (init or app) containers binds a host port.
func HasHostPorts(pod *corev1.Pod) bool { return len(podHostPorts(pod)) > 0 }

// HostPortsConflict reports whether pod wants a host port one of others holds (the
// scheduler's NodePorts filter, which the kubelet's admission runs again on its node).
func HostPortsConflict(pod *corev1.Pod, others []*corev1.Pod) bool {
	want := podHostPorts(pod)
	if len(want) == 0 {
		return false
	}
	for _, o := range others {
		for _, used := range podHostPorts(o) {
			for _, w := range want {
				if w.clashes(used) {
					return true
				}
			}
		}
	}
	return false
}

// insufficient lists what the node lacks for the pod, in Kubernetes' order (pods, cpu, memory).
func (st *podState) insufficient(ni *NodeInfo) []string {
	var out []string
	if int64(ni.Pods)+1 > ni.AllocPods {
		out = append(out, ReasonTooManyPods)
	}
	if st.req.cpu > 0 && st.req.cpu > ni.AllocCPU-ni.ReqCPU {
		out = append(out, ReasonInsufficientCPU)
	}
	if st.req.mem > 0 && st.req.mem > ni.AllocMem-ni.ReqMem {
		out = append(out, ReasonInsufficientMem)
	}
	return out
}
