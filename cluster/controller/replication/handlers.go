package replication

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/drover-ci/drover/cluster/controller"
)

// addPod credits a creation to the pod's controller, or wakes the controllers that could adopt it.
func (c *Controller) addPod(obj interface{}) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		// A pod seen for the first time already being deleted (e.g. after a restart).
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		if rc := c.resolveRef(pod.Namespace, ref); rc != nil {
			key, _ := cache.MetaNamespaceKeyFunc(rc)
			c.exp.CreationObserved(key)
			c.queue.Add(key)
		}
		return
	}
	for _, rc := range c.selectingControllers(pod) {
		c.enqueue(rc)
	}
}

// updatePod wakes the controllers concerned by a change of labels, owner, readiness or deletion.
func (c *Controller) updatePod(oldObj, curObj interface{}) {
	old, cur := oldObj.(*corev1.Pod), curObj.(*corev1.Pod)
	if old.ResourceVersion == cur.ResourceVersion {
		return
	}
	labelsChanged := !labels.Equals(old.Labels, cur.Labels)
	if cur.DeletionTimestamp != nil {
		// Graceful deletion started: count it as the deletion at once, as Kubernetes does.
		c.deletePod(cur)
		if labelsChanged {
			c.deletePod(old)
		}
		return
	}
	curRef, oldRef := metav1.GetControllerOf(cur), metav1.GetControllerOf(old)
	refChanged := !refEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if rc := c.resolveRef(old.Namespace, oldRef); rc != nil {
			c.enqueue(rc)
		}
	}
	if curRef != nil {
		rc := c.resolveRef(cur.Namespace, curRef)
		if rc == nil {
			return
		}
		c.enqueue(rc)
		if rc.Spec.MinReadySeconds > 0 && !podReady(old) && podReady(cur) {
			// Check availability again once the pod has been ready long enough.
			c.enqueueAfter(rc, time.Duration(rc.Spec.MinReadySeconds)*time.Second+time.Second)
		}
		return
	}
	if labelsChanged || refChanged {
		for _, rc := range c.selectingControllers(cur) {
			c.enqueue(rc)
		}
	}
}

// deletePod credits a deletion to the pod's controller.
func (c *Controller) deletePod(obj interface{}) {
	pod, ok := controller.DeletedPod(obj)
	if !ok {
		return
	}
	ref := metav1.GetControllerOf(pod)
	if ref == nil {
		return
	}
	rc := c.resolveRef(pod.Namespace, ref)
	if rc == nil {
		return
	}
	key, _ := cache.MetaNamespaceKeyFunc(rc)
	c.exp.DeletionObserved(key, podKey(pod))
	c.queue.Add(key)
}

// resolveRef returns the controller a controller reference names, if it is ours and still exists.
func (c *Controller) resolveRef(ns string, ref *metav1.OwnerReference) *appsv1.ReplicaSet {
	gvk := c.kind.gvk()
	if ref.Kind != gvk.Kind || ref.APIVersion != gvk.GroupVersion().String() {
		return nil
	}
	rc, err := c.kind.get(ns, ref.Name)
	if err != nil || rc.UID != ref.UID {
		return nil
	}
	return rc
}

// selectingControllers lists the controllers of the pod's namespace whose selector matches it.
func (c *Controller) selectingControllers(pod *corev1.Pod) []*appsv1.ReplicaSet {
	if len(pod.Labels) == 0 {
		return nil
	}
	all, err := c.kind.list(pod.Namespace)
	if err != nil {
		return nil
	}
	var out []*appsv1.ReplicaSet
	for _, rc := range all {
		sel, err := metav1.LabelSelectorAsSelector(rc.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(pod.Labels)) {
			out = append(out, rc)
		}
	}
	return out
}

func refEqual(a, b *metav1.OwnerReference) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.UID == b.UID
}

var podKey = controller.PodKey
