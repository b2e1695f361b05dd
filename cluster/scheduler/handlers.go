package scheduler

import (
	"reflect"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/drover-ci/drover/cluster/controller"
)

// watch registers the informer handlers that keep the snapshot and the queue current.
func (c *Controller) watch(cc controller.Context) error {
	core := cc.Informers.Core().V1()
	pods, nodes := core.Pods().Informer(), core.Nodes().Informer()
	pvs, pvcs := core.PersistentVolumes().Informer(), core.PersistentVolumeClaims().Informer()
	c.synced = []cache.InformerSynced{pods.HasSynced, nodes.HasSynced, pvs.HasSynced, pvcs.HasSynced}
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandlerFuncs
	}{
		{pods, cache.ResourceEventHandlerFuncs{AddFunc: c.podAdded, UpdateFunc: c.podUpdated, DeleteFunc: c.podDeleted}},
		{nodes, cache.ResourceEventHandlerFuncs{AddFunc: c.nodeAdded, UpdateFunc: c.nodeUpdated, DeleteFunc: c.nodeDeleted}},
		{pvs, cache.ResourceEventHandlerFuncs{AddFunc: c.pvChanged, UpdateFunc: func(_, n interface{}) { c.pvChanged(n) }, DeleteFunc: c.pvDeleted}},
		{pvcs, cache.ResourceEventHandlerFuncs{AddFunc: c.pvcChanged, UpdateFunc: func(_, n interface{}) { c.pvcChanged(n) }, DeleteFunc: c.pvcDeleted}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return err
		}
	}
	return nil
}

func unwrap(obj interface{}) interface{} {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return d.Obj
	}
	return obj
}

func key(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

func (c *Controller) podAdded(obj interface{}) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	switch {
	case pod.Spec.NodeName != "" && terminal(pod):
		c.cache.removePod(pod)
	case pod.Spec.NodeName != "":
		c.cache.addPod(pod)
	case responsible(pod):
		c.queue.Add(key(pod))
	}
}

func (c *Controller) podUpdated(oldObj, newObj interface{}) {
	old, ok1 := oldObj.(*corev1.Pod)
	pod, ok2 := newObj.(*corev1.Pod)
	if !ok1 || !ok2 {
		return
	}
	switch {
	case pod.Spec.NodeName != "" && terminal(pod):
		if c.cache.removePod(pod) {
			c.parked.moveAll() // its resources are free again
		}
	case pod.Spec.NodeName != "":
		c.cache.addPod(pod)
	case !responsible(pod):
		c.parked.remove(key(pod))
	case c.parked.has(key(pod)) && !podSpecChanged(old, pod):
		// a status update (our own PodScheduled=False among them) changes nothing
	default:
		c.queue.Add(key(pod))
	}
}

// podSpecChanged: what the scheduler looks at (spec, labels, owners) differs.
func podSpecChanged(old, pod *corev1.Pod) bool {
	return !reflect.DeepEqual(old.Spec, pod.Spec) || !reflect.DeepEqual(old.Labels, pod.Labels) ||
		!reflect.DeepEqual(old.OwnerReferences, pod.OwnerReferences)
}

func (c *Controller) podDeleted(obj interface{}) {
	pod, ok := unwrap(obj).(*corev1.Pod)
	if !ok {
		return
	}
	c.parked.remove(key(pod))
	if c.cache.removePod(pod) {
		c.parked.moveAll()
	}
}

func (c *Controller) nodeAdded(obj interface{}) {
	if node, ok := obj.(*corev1.Node); ok {
		c.cache.with(func(s *Snapshot) { s.SetNode(node) })
		c.parked.moveAll()
	}
}

func (c *Controller) nodeUpdated(oldObj, newObj interface{}) {
	old, ok1 := oldObj.(*corev1.Node)
	node, ok2 := newObj.(*corev1.Node)
	if !ok1 || !ok2 {
		return
	}
	c.cache.with(func(s *Snapshot) { s.SetNode(node) })
	if nodeSchedulingChanged(old, node) {
		c.parked.moveAll()
	}
}

// nodeSchedulingChanged: something the filters look at changed (heartbeats alone do not count).
func nodeSchedulingChanged(old, node *corev1.Node) bool {
	return old.Spec.Unschedulable != node.Spec.Unschedulable ||
		!reflect.DeepEqual(old.Spec.Taints, node.Spec.Taints) ||
		!reflect.DeepEqual(old.Labels, node.Labels) ||
		!reflect.DeepEqual(old.Status.Allocatable, node.Status.Allocatable) ||
		readyStatus(old) != readyStatus(node)
}

func (c *Controller) nodeDeleted(obj interface{}) {
	if node, ok := unwrap(obj).(*corev1.Node); ok {
		c.cache.with(func(s *Snapshot) { s.RemoveNode(node.Name) })
	}
}

func (c *Controller) pvChanged(obj interface{}) {
	if pv, ok := obj.(*corev1.PersistentVolume); ok {
		c.cache.with(func(s *Snapshot) { s.SetPV(pv) })
		c.parked.moveAll()
	}
}

func (c *Controller) pvDeleted(obj interface{}) {
	if pv, ok := unwrap(obj).(*corev1.PersistentVolume); ok {
		c.cache.with(func(s *Snapshot) { s.RemovePV(pv.Name) })
	}
}

func (c *Controller) pvcChanged(obj interface{}) {
	if pvc, ok := obj.(*corev1.PersistentVolumeClaim); ok {
		c.cache.with(func(s *Snapshot) { s.SetPVC(pvc) })
		c.parked.moveAll()
	}
}

func (c *Controller) pvcDeleted(obj interface{}) {
	if pvc, ok := unwrap(obj).(*corev1.PersistentVolumeClaim); ok {
		c.cache.with(func(s *Snapshot) { s.RemovePVC(pvc.Namespace, pvc.Name) })
	}
}
