package scheduler

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
)

// Snapshot is the cluster as the scheduler sees it: the nodes, the pods assigned to each (those
// observed and those assumed but not yet observed), and the volumes and claims pods refer to.
// It is kept up to date incrementally (per-node aggregates change with each pod), so placing a
// pod never rebuilds it. A Snapshot is not safe for concurrent use; the controller guards it.
type Snapshot struct {
	nodes map[string]*NodeInfo
	// list holds the known nodes (Node != nil) sorted by name: the order Schedule walks.
	list  []*NodeInfo
	pods  map[string]*podEntry // by podKey
	pvs   map[string]*corev1.PersistentVolume
	pvcs  map[string]*corev1.PersistentVolumeClaim // by namespace/name
	dirty bool                                     // list must be rebuilt
}

// NodeInfo is one node and the aggregate of the pods assigned to it.
type NodeInfo struct {
	// Node is nil while pods name a node the snapshot has not seen.
	Node *corev1.Node
	// Allocatable and Requested resources (cpu in millicores, memory in bytes).
	AllocCPU, AllocMem, AllocPods int64
	ReqCPU, ReqMem                int64
	// nonzero requests (defaults for containers without any), for scoring.
	nzCPU, nzMem int64
	Pods         int
	ready        bool
	ports        map[hostPort]int
	owners       map[string]int // controller uid → pods on this node
}

type podEntry struct {
	node  string
	req   requests
	nz    requests
	ports []hostPort
	owner string
}

// NewSnapshot returns an empty snapshot.
func NewSnapshot() *Snapshot {
	return &Snapshot{
		nodes: map[string]*NodeInfo{},
		pods:  map[string]*podEntry{},
		pvs:   map[string]*corev1.PersistentVolume{},
		pvcs:  map[string]*corev1.PersistentVolumeClaim{},
	}
}

func (s *Snapshot) info(name string) *NodeInfo {
	ni := s.nodes[name]
	if ni == nil {
		ni = &NodeInfo{ports: map[hostPort]int{}, owners: map[string]int{}}
		s.nodes[name] = ni
	}
	return ni
}

// SetNode adds or replaces a node.
func (s *Snapshot) SetNode(node *corev1.Node) {
	ni := s.info(node.Name)
	if ni.Node == nil {
		s.dirty = true
	}
	ni.Node = node
	a := node.Status.Allocatable
	ni.AllocCPU, ni.AllocMem, ni.AllocPods = a.Cpu().MilliValue(), a.Memory().Value(), a.Pods().Value()
	ni.ready = nodeReady(node)
}

// RemoveNode forgets a node; pods still assigned to it keep counting against its name.
func (s *Snapshot) RemoveNode(name string) {
	ni := s.nodes[name]
	if ni == nil {
		return
	}
	ni.Node = nil
	s.dirty = true
	if ni.Pods == 0 {
		delete(s.nodes, name)
	}
}

// Node returns what the snapshot knows of a node (nil if nothing).
func (s *Snapshot) Node(name string) *NodeInfo { return s.nodes[name] }

// NumNodes is the number of known nodes.
func (s *Snapshot) NumNodes() int { return len(s.nodeList()) }

func (s *Snapshot) nodeList() []*NodeInfo {
	if !s.dirty && s.list != nil {
		return s.list
	}
	s.list = s.list[:0]
	for _, ni := range s.nodes {
		if ni.Node != nil {
			s.list = append(s.list, ni)
		}
	}
	sort.Slice(s.list, func(i, j int) bool { return s.list[i].Node.Name < s.list[j].Node.Name })
	s.dirty = false
	return s.list
}

// AddPod counts a pod on the node named by its spec.nodeName (replacing what was counted for
// the same pod before, wherever it was). Pods without a node are ignored.
func (s *Snapshot) AddPod(pod *corev1.Pod) {
	s.RemovePod(pod)
	if pod.Spec.NodeName == "" {
		return
	}
	e := &podEntry{node: pod.Spec.NodeName, req: podRequests(pod, false), nz: podRequests(pod, true),
		ports: podHostPorts(pod), owner: controllerUID(pod)}
	s.pods[podKey(pod)] = e
	ni := s.info(e.node)
	ni.apply(e, 1)
}

// RemovePod stops counting a pod.
func (s *Snapshot) RemovePod(pod *corev1.Pod) { s.removeKey(podKey(pod)) }

func (s *Snapshot) removeKey(key string) {
	e := s.pods[key]
	if e == nil {
		return
	}
	delete(s.pods, key)
	ni := s.nodes[e.node]
	if ni == nil {
		return
	}
	ni.apply(e, -1)
	if ni.Node == nil && ni.Pods == 0 {
		delete(s.nodes, e.node)
	}
}

// HasPod reports whether a pod is counted, and on which node.
func (s *Snapshot) HasPod(pod *corev1.Pod) (node string, ok bool) {
	if e := s.pods[podKey(pod)]; e != nil {
		return e.node, true
	}
	return "", false
}

func (ni *NodeInfo) apply(e *podEntry, sign int64) {
	ni.ReqCPU += sign * e.req.cpu
	ni.ReqMem += sign * e.req.mem
	ni.nzCPU += sign * e.nz.cpu
	ni.nzMem += sign * e.nz.mem
	ni.Pods += int(sign)
	for _, p := range e.ports {
		ni.ports[p] += int(sign)
		if ni.ports[p] <= 0 {
			delete(ni.ports, p)
		}
	}
	if e.owner != "" {
		ni.owners[e.owner] += int(sign)
		if ni.owners[e.owner] <= 0 {
			delete(ni.owners, e.owner)
		}
	}
}

// SetPV adds or replaces a PersistentVolume.
func (s *Snapshot) SetPV(pv *corev1.PersistentVolume) { s.pvs[pv.Name] = pv }

// RemovePV forgets a PersistentVolume.
func (s *Snapshot) RemovePV(name string) { delete(s.pvs, name) }

// SetPVC adds or replaces a PersistentVolumeClaim.
func (s *Snapshot) SetPVC(pvc *corev1.PersistentVolumeClaim) {
	s.pvcs[pvc.Namespace+"/"+pvc.Name] = pvc
}

// RemovePVC forgets a PersistentVolumeClaim.
func (s *Snapshot) RemovePVC(namespace, name string) { delete(s.pvcs, namespace+"/"+name) }

// nodeReady reports whether the node's Ready condition is True.
func nodeReady(node *corev1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
