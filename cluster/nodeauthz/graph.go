// Package nodeauthz is Kubernetes' Node authorizer and NodeRestriction admission for drover's
// node agents: a user system:node:NAME in system:nodes may read the Secrets, ConfigMaps,
// PersistentVolumeClaims (and their PersistentVolumes) and ServiceAccount tokens only of the
// pods bound to NAME, found in a graph kept current from watches of pods and
// PersistentVolumes (never a list per request); besides those it has the fixed rules of
// Kubernetes' system:node role (its Node and Lease, its pods' status, events, services,
// endpoints, CSRs, CSIDrivers and its own CSINode; VolumeAttachments, which Kubernetes relates
// to nodes through the graph, are not: drover attaches no volumes). NodeRestriction (Admit)
// limits its writes to its own objects.
package nodeauthz

import (
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// kind of object a pod refers to.
type kind uint8

const (
	secretKind kind = iota
	configMapKind
	pvcKind
	serviceAccountKind
)

type ref struct {
	kind      kind
	namespace string
	name      string
}

// podInfo is what the graph keeps of a pod: its node and what it refers to.
type podInfo struct {
	node string
	refs []ref
}

// Graph relates nodes to the objects their pods use: per node, each object with the number of
// its pods that refer to it; and each PersistentVolume to its claim.
type Graph struct {
	mu    sync.RWMutex
	pods  map[string]podInfo     // namespace/name → info
	nodes map[string]map[ref]int // node → object → pods referring
	pvs   map[string]ref         // PV name → the PVC of its claimRef
}

// NewGraph is an empty graph.
func NewGraph() *Graph {
	return &Graph{pods: map[string]podInfo{}, nodes: map[string]map[ref]int{}, pvs: map[string]ref{}}
}

// Watch keeps g current from f's pod and PersistentVolume informers (f must be started by the
// caller), and returns their HasSynced.
func (g *Graph) Watch(f informers.SharedInformerFactory) ([]cache.InformerSynced, error) {
	pods := f.Core().V1().Pods().Informer()
	// Keep only what the graph needs of each pod in the informer's cache.
	_ = pods.SetTransform(func(obj interface{}) (interface{}, error) {
		if p, ok := obj.(*corev1.Pod); ok {
			return slimPod(p), nil
		}
		return obj, nil
	})
	if _, err := pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj interface{}) { g.setPod(obj) },
		UpdateFunc: func(_, obj interface{}) { g.setPod(obj) },
		DeleteFunc: g.deletePod,
	}); err != nil {
		return nil, err
	}
	pvs := f.Core().V1().PersistentVolumes().Informer()
	if _, err := pvs.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj interface{}) { g.setPV(obj) },
		UpdateFunc: func(_, obj interface{}) { g.setPV(obj) },
		DeleteFunc: g.deletePV,
	}); err != nil {
		return nil, err
	}
	return []cache.InformerSynced{pods.HasSynced, pvs.HasSynced}, nil
}

// slimPod is the part of p the graph reads.
func slimPod(p *corev1.Pod) *corev1.Pod {
	out := &corev1.Pod{ObjectMeta: p.ObjectMeta, Spec: corev1.PodSpec{NodeName: p.Spec.NodeName,
		ServiceAccountName: p.Spec.ServiceAccountName, ImagePullSecrets: p.Spec.ImagePullSecrets, Volumes: p.Spec.Volumes,
		Containers: p.Spec.Containers, InitContainers: p.Spec.InitContainers}}
	out.ManagedFields = nil
	out.Annotations = nil
	for _, c := range p.Spec.EphemeralContainers {
		out.Spec.EphemeralContainers = append(out.Spec.EphemeralContainers, corev1.EphemeralContainer{
			EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: c.Name, Env: c.Env, EnvFrom: c.EnvFrom}})
	}
	return out
}

// podRefs are the objects p uses, as Kubernetes' VisitPodSecretNames and
// VisitPodConfigmapNames find them: image pull secrets, volumes (secret, configMap, projected,
// persistentVolumeClaim and the secretRefs of volume plugins), env and envFrom of every
// container; and its ServiceAccount.
func podRefs(p *corev1.Pod) []ref {
	ns := p.Namespace
	seen := map[ref]bool{}
	var out []ref
	add := func(k kind, name string) {
		r := ref{k, ns, name}
		if name != "" && !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	for _, s := range p.Spec.ImagePullSecrets {
		add(secretKind, s.Name)
	}
	if p.Spec.ServiceAccountName != "" {
		add(serviceAccountKind, p.Spec.ServiceAccountName)
	}
	for _, v := range p.Spec.Volumes {
		switch {
		case v.Secret != nil:
			add(secretKind, v.Secret.SecretName)
		case v.ConfigMap != nil:
			add(configMapKind, v.ConfigMap.Name)
		case v.PersistentVolumeClaim != nil:
			add(pvcKind, v.PersistentVolumeClaim.ClaimName)
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				if src.Secret != nil {
					add(secretKind, src.Secret.Name)
				}
				if src.ConfigMap != nil {
					add(configMapKind, src.ConfigMap.Name)
				}
			}
		case v.CSI != nil && v.CSI.NodePublishSecretRef != nil:
			add(secretKind, v.CSI.NodePublishSecretRef.Name)
		case v.ISCSI != nil && v.ISCSI.SecretRef != nil:
			add(secretKind, v.ISCSI.SecretRef.Name)
		case v.RBD != nil && v.RBD.SecretRef != nil:
			add(secretKind, v.RBD.SecretRef.Name)
		case v.CephFS != nil && v.CephFS.SecretRef != nil:
			add(secretKind, v.CephFS.SecretRef.Name)
		case v.FlexVolume != nil && v.FlexVolume.SecretRef != nil:
			add(secretKind, v.FlexVolume.SecretRef.Name)
		case v.AzureFile != nil:
			add(secretKind, v.AzureFile.SecretName)
		case v.StorageOS != nil && v.StorageOS.SecretRef != nil:
			add(secretKind, v.StorageOS.SecretRef.Name)
		case v.ScaleIO != nil && v.ScaleIO.SecretRef != nil:
			add(secretKind, v.ScaleIO.SecretRef.Name)
		}
	}
	envs := func(env []corev1.EnvVar, from []corev1.EnvFromSource) {
		for _, e := range from {
			if e.SecretRef != nil {
				add(secretKind, e.SecretRef.Name)
			}
			if e.ConfigMapRef != nil {
				add(configMapKind, e.ConfigMapRef.Name)
			}
		}
		for _, e := range env {
			if e.ValueFrom == nil {
				continue
			}
			if e.ValueFrom.SecretKeyRef != nil {
				add(secretKind, e.ValueFrom.SecretKeyRef.Name)
			}
			if e.ValueFrom.ConfigMapKeyRef != nil {
				add(configMapKind, e.ValueFrom.ConfigMapKeyRef.Name)
			}
		}
	}
	for _, c := range p.Spec.InitContainers {
		envs(c.Env, c.EnvFrom)
	}
	for _, c := range p.Spec.Containers {
		envs(c.Env, c.EnvFrom)
	}
	for _, c := range p.Spec.EphemeralContainers {
		envs(c.Env, c.EnvFrom)
	}
	return out
}

func podKey(ns, name string) string { return ns + "/" + name }

// SetPod records p (a pod not bound to a node relates to nothing).
func (g *Graph) SetPod(p *corev1.Pod) {
	info := podInfo{node: p.Spec.NodeName}
	if info.node != "" {
		info.refs = podRefs(p)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	key := podKey(p.Namespace, p.Name)
	g.unlinkLocked(key)
	if info.node == "" {
		return
	}
	g.pods[key] = info
	m := g.nodes[info.node]
	if m == nil {
		m = map[ref]int{}
		g.nodes[info.node] = m
	}
	for _, r := range info.refs {
		m[r]++
	}
}

// DeletePod forgets the pod.
func (g *Graph) DeletePod(ns, name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.unlinkLocked(podKey(ns, name))
}

func (g *Graph) unlinkLocked(key string) {
	old, ok := g.pods[key]
	if !ok {
		return
	}
	delete(g.pods, key)
	m := g.nodes[old.node]
	for _, r := range old.refs {
		if m[r]--; m[r] <= 0 {
			delete(m, r)
		}
	}
	if len(m) == 0 {
		delete(g.nodes, old.node)
	}
}

func (g *Graph) setPod(obj interface{}) {
	if p, ok := obj.(*corev1.Pod); ok {
		g.SetPod(p)
	}
}

func (g *Graph) deletePod(obj interface{}) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if p, ok := obj.(*corev1.Pod); ok {
		g.DeletePod(p.Namespace, p.Name)
	}
}

// SetPV records pv's claim.
func (g *Graph) SetPV(pv *corev1.PersistentVolume) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c := pv.Spec.ClaimRef; c != nil && c.Name != "" {
		g.pvs[pv.Name] = ref{pvcKind, c.Namespace, c.Name}
	} else {
		delete(g.pvs, pv.Name)
	}
}

func (g *Graph) setPV(obj interface{}) {
	if pv, ok := obj.(*corev1.PersistentVolume); ok {
		g.SetPV(pv)
	}
}

func (g *Graph) deletePV(obj interface{}) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if pv, ok := obj.(*corev1.PersistentVolume); ok {
		g.mu.Lock()
		delete(g.pvs, pv.Name)
		g.mu.Unlock()
	}
}

// related reports whether a pod bound to node uses the object.
func (g *Graph) related(node string, r ref) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.nodes[node][r] > 0
}

// relatedPV reports whether a pod bound to node uses the claim bound to the PV.
func (g *Graph) relatedPV(node, pv string) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	c, ok := g.pvs[pv]
	return ok && g.nodes[node][c] > 0
}

// PodNode is the node the pod is bound to, as the graph knows it ("" when unknown or unbound).
func (g *Graph) PodNode(ns, name string) string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.pods[podKey(ns, name)].node
}

// NodeName is the node of a node agent's user: system:node:NAME in system:nodes ("" for
// anyone else), as Kubernetes' NodeIdentifier.
func NodeName(u user.Info) string {
	if u == nil {
		return ""
	}
	name, ok := strings.CutPrefix(u.GetName(), "system:node:")
	if !ok || name == "" {
		return ""
	}
	for _, g := range u.GetGroups() {
		if g == user.NodesGroup {
			return name
		}
	}
	return ""
}
