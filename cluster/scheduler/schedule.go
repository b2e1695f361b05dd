// Package scheduler places pods on nodes. Schedule is the placement itself, a pure function of
// a pod and a Snapshot of the cluster, with Kubernetes' filters (node readiness and taints,
// schedulability, node selector and affinity, host ports, cpu/memory/pod count, volume node
// affinity) and scores (least requested, spreading the pods of one controller); the scheduler
// controller (NewController) keeps the Snapshot current from informers and binds pods through
// pods/binding.
package scheduler

import (
	corev1 "k8s.io/api/core/v1"
)

// Schedule chooses a node for the pod. When none fits, err is a *FitError (or
// ErrNoNodesAvailable when the snapshot has no node) whose text is Kubernetes'.
func Schedule(pod *corev1.Pod, snap *Snapshot) (nodeName string, err error) {
	nodes := snap.nodeList()
	if len(nodes) == 0 {
		return "", ErrNoNodesAvailable
	}
	st := newPodState(pod)
	if msg := st.resolveVolumes(snap); msg != "" {
		return "", &FitError{NumAllNodes: len(nodes), PreFilterMsg: msg}
	}
	feasible := make([]*NodeInfo, 0, len(nodes))
	var reasons map[string]int
	for _, ni := range nodes {
		r := st.filter(ni)
		if r == nil {
			feasible = append(feasible, ni)
			continue
		}
		if reasons == nil {
			reasons = map[string]int{}
		}
		for _, x := range r {
			reasons[x]++
		}
	}
	if len(feasible) == 0 {
		return "", &FitError{NumAllNodes: len(nodes), Reasons: reasons}
	}
	return st.pick(feasible), nil
}
