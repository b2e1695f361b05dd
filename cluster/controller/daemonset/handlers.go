package daemonset

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/drover-ci/drover/cluster/controller"
)

// addPod credits a creation to the pod's DaemonSet, or wakes the DaemonSets that could adopt it.
func (c *Controller) addPod(obj interface{}) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		if ds := c.resolveRef(pod.Namespace, ref); ds != nil {
			key, _ := cache.MetaNamespaceKeyFunc(ds)
			c.exp.CreationObserved(key)
			c.queue.Add(key)
		}
		return
	}
	for _, ds := range c.selecting(pod.Namespace, pod.Labels) {
		c.enqueue(ds)
	}
}

// updatePod wakes the DaemonSets concerned by a change of a pod.
func (c *Controller) updatePod(oldObj, curObj interface{}) {
	old, cur := oldObj.(*corev1.Pod), curObj.(*corev1.Pod)
	if old.ResourceVersion == cur.ResourceVersion {
		return
	}
	if cur.DeletionTimestamp != nil {
		c.deletePod(cur)
		return
	}
	curRef, oldRef := metav1.GetControllerOf(cur), metav1.GetControllerOf(old)
	refChanged := !apiequality.Semantic.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if ds := c.resolveRef(old.Namespace, oldRef); ds != nil {
			c.enqueue(ds)
		}
	}
	if curRef != nil {
		ds := c.resolveRef(cur.Namespace, curRef)
		if ds == nil {
			return
		}
		c.enqueue(ds)
		if ds.Spec.MinReadySeconds > 0 && !podReady(old) && podReady(cur) {
			c.enqueueAfter(ds, time.Duration(ds.Spec.MinReadySeconds)*time.Second+time.Second)
		}
		return
	}
	if refChanged || !labels.Equals(old.Labels, cur.Labels) {
		for _, ds := range c.selecting(cur.Namespace, cur.Labels) {
			c.enqueue(ds)
		}
	}
}

// deletePod credits a deletion to the pod's DaemonSet.
func (c *Controller) deletePod(obj interface{}) {
	pod, ok := controller.DeletedPod(obj)
	if !ok {
		return
	}
	ref := metav1.GetControllerOf(pod)
	if ref == nil {
		return
	}
	ds := c.resolveRef(pod.Namespace, ref)
	if ds == nil {
		return
	}
	key, _ := cache.MetaNamespaceKeyFunc(ds)
	c.exp.DeletionObserved(key, controller.PodKey(pod))
	c.queue.Add(key)
}

// addNode wakes the DaemonSets that should run on a new node.
func (c *Controller) addNode(obj interface{}) {
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	for _, ds := range c.allDaemonSets() {
		if run, _ := shouldRun(node, ds); run {
			c.enqueue(ds)
		}
	}
}

// updateNode wakes the DaemonSets whose verdict on the node changed.
func (c *Controller) updateNode(oldObj, curObj interface{}) {
	old, cur := oldObj.(*corev1.Node), curObj.(*corev1.Node)
	if ignoreNodeUpdate(*old, *cur) {
		return
	}
	for _, ds := range c.allDaemonSets() {
		oldRun, oldCont := shouldRun(old, ds)
		curRun, curCont := shouldRun(cur, ds)
		if oldRun != curRun || oldCont != curCont {
			c.enqueue(ds)
		}
	}
}

// deleteNode wakes every DaemonSet: their pods on the node go (see deletePodsOfGoneNodes).
func (c *Controller) deleteNode(interface{}) {
	for _, ds := range c.allDaemonSets() {
		c.enqueue(ds)
	}
}

// revisionChanged wakes the DaemonSet that owns a ControllerRevision.
func (c *Controller) revisionChanged(obj interface{}) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	cr, ok := obj.(*appsv1.ControllerRevision)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOf(cr); ref != nil {
		if ds := c.resolveRef(cr.Namespace, ref); ds != nil {
			c.enqueue(ds)
		}
		return
	}
	for _, ds := range c.selecting(cr.Namespace, cr.Labels) {
		c.enqueue(ds)
	}
}

// ignoreNodeUpdate: nothing changed but heartbeats (conditions whose True set is the same).
func ignoreNodeUpdate(old, cur corev1.Node) bool {
	if !sameTrueConditions(old.Status.Conditions, cur.Status.Conditions) {
		return false
	}
	old.ResourceVersion = cur.ResourceVersion
	old.Status.Conditions = cur.Status.Conditions
	return apiequality.Semantic.DeepEqual(old, cur)
}

func sameTrueConditions(a, b []corev1.NodeCondition) bool {
	set := map[corev1.NodeConditionType]bool{}
	for _, c := range a {
		if c.Status == corev1.ConditionTrue {
			set[c.Type] = true
		}
	}
	n := 0
	for _, c := range b {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		if !set[c.Type] {
			return false
		}
		n++
	}
	return n == len(set)
}

// resolveRef returns the DaemonSet a controller reference names, if it still exists.
func (c *Controller) resolveRef(ns string, ref *metav1.OwnerReference) *appsv1.DaemonSet {
	if ref.Kind != dsKind.Kind {
		return nil
	}
	ds, err := c.dss.DaemonSets(ns).Get(ref.Name)
	if err != nil || ds.UID != ref.UID {
		return nil
	}
	return ds
}

// selecting lists the DaemonSets of namespace whose selector matches set.
func (c *Controller) selecting(ns string, set map[string]string) []*appsv1.DaemonSet {
	if len(set) == 0 {
		return nil
	}
	all, err := c.dss.DaemonSets(ns).List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*appsv1.DaemonSet
	for _, ds := range all {
		sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
		if err != nil || sel.Empty() {
			continue
		}
		if sel.Matches(labels.Set(set)) {
			out = append(out, ds)
		}
	}
	return out
}

func (c *Controller) allDaemonSets() []*appsv1.DaemonSet {
	all, err := c.dss.List(labels.Everything())
	if err != nil {
		return nil
	}
	return all
}
