// Package statefulset is the apps/v1 StatefulSet controller, after Kubernetes'
// pkg/controller/statefulset: pods with stable names NAME-0…NAME-(N-1), hostname and
// subdomain for DNS through the governing headless Service, one PersistentVolumeClaim per
// volumeClaimTemplate and ordinal that outlives its pod (owners set by
// persistentVolumeClaimRetentionPolicy), OrderedReady and Parallel pod management, rolling
// updates with a partition and OnDelete, revisions kept as ControllerRevisions, and
// Kubernetes' status fields.
//
// The pure parts (identity, revisions, retention, status arithmetic) are separate from the
// calls that act on them (podcontrol.go, history.go).
package statefulset

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cluster/controller"
)

// Component is the source of the controller's events.
const Component = "statefulset-controller"

var controllerKind = appsv1.SchemeGroupVersion.WithKind("StatefulSet")

// Controller is the StatefulSet controller.
type Controller struct {
	client    kubernetes.Interface
	sets      appslisters.StatefulSetLister
	podList   corelisters.PodLister
	revisions appslisters.ControllerRevisionLister
	pods      *podControl
	synced    []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
	clock     clock.Clock
	workers   int
	log       *slog.Logger
}

// New builds the controller from the manager's context.
func New(cc controller.Context) (*Controller, error) {
	setInf := cc.Informers.Apps().V1().StatefulSets()
	revInf := cc.Informers.Apps().V1().ControllerRevisions()
	podInf := cc.Informers.Core().V1().Pods()
	pvcInf := cc.Informers.Core().V1().PersistentVolumeClaims()
	c := &Controller{
		client:    cc.Client,
		sets:      setInf.Lister(),
		podList:   podInf.Lister(),
		revisions: revInf.Lister(),
		pods: &podControl{client: cc.Client, pods: podInf.Lister(), claims: pvcInf.Lister(),
			recorder: cc.EventRecorder(Component)},
		synced: []cache.InformerSynced{setInf.Informer().HasSynced, revInf.Informer().HasSynced,
			podInf.Informer().HasSynced, pvcInf.Informer().HasSynced},
		queue:   workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		clock:   cc.ClockOrReal(),
		workers: cc.Options.WithDefaults().Workers,
		log:     cc.LoggerOrDiscard(),
	}
	if _, err := setInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, n interface{}) { c.enqueue(n) },
		DeleteFunc: c.enqueue,
	}); err != nil {
		return nil, fmt.Errorf("statefulset: set handler: %w", err)
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	}); err != nil {
		return nil, fmt.Errorf("statefulset: pod handler: %w", err)
	}
	// The claims and revisions are read from their caches only.
	if _, err := pvcInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{}); err != nil {
		return nil, fmt.Errorf("statefulset: claim handler: %w", err)
	}
	if _, err := revInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{}); err != nil {
		return nil, fmt.Errorf("statefulset: revision handler: %w", err)
	}
	return c, nil
}

// Name is "statefulset".
func (c *Controller) Name() string { return "statefulset" }

// Run works until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return controller.RunWorkers(ctx, c.log, c.queue, c.synced, c.workers, c.sync)
}

func (c *Controller) enqueue(obj interface{}) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

// sync brings one StatefulSet's pods, claims, revisions and status in line with its spec. With
// minReadySeconds it asks to look again while pods are ready but not yet available.
func (c *Controller) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	set, err := c.sets.StatefulSets(ns).Get(name)
	if err != nil {
		return 0, nil // gone: its pods and revisions go with it through their owner references
	}
	sel, err := selectorOf(set)
	if err != nil {
		return 0, nil // invalid selector: nothing to retry
	}
	if err := c.adoptOrphanRevisions(ctx, set); err != nil {
		return 0, err
	}
	all, err := c.podList.Pods(ns).List(labels.Everything())
	if err != nil {
		return 0, err
	}
	pods, err := c.claimPods(ctx, set, sel, all)
	if err != nil {
		return 0, err
	}
	status, err := c.update(ctx, set, pods)
	if err != nil {
		return 0, err
	}
	if set.Spec.MinReadySeconds > 0 && status != nil && int(status.AvailableReplicas) != replicasOf(set) {
		return time.Duration(set.Spec.MinReadySeconds) * time.Second, nil
	}
	return 0, nil
}

// resolveRef is the StatefulSet a controller reference names, if it exists with that uid.
func (c *Controller) resolveRef(ns string, ref *metav1.OwnerReference) *appsv1.StatefulSet {
	if ref.Kind != controllerKind.Kind || ref.APIVersion != controllerKind.GroupVersion().String() {
		return nil
	}
	set, err := c.sets.StatefulSets(ns).Get(ref.Name)
	if err != nil || set.UID != ref.UID {
		return nil
	}
	return set
}

// setsForPod are the StatefulSets of the pod's namespace that select it.
func (c *Controller) setsForPod(pod *corev1.Pod) []*appsv1.StatefulSet {
	if len(pod.Labels) == 0 {
		return nil
	}
	all, err := c.sets.StatefulSets(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*appsv1.StatefulSet
	for _, set := range all {
		sel, err := selectorOf(set)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		out = append(out, set)
	}
	return out
}

func (c *Controller) addPod(obj interface{}) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		if set := c.resolveRef(pod.Namespace, ref); set != nil {
			c.enqueue(set)
		}
		return
	}
	for _, set := range c.setsForPod(pod) {
		c.enqueue(set)
	}
}

func (c *Controller) updatePod(oldObj, curObj interface{}) {
	old, cur := oldObj.(*corev1.Pod), curObj.(*corev1.Pod)
	if old.ResourceVersion == cur.ResourceVersion {
		return
	}
	labelsChanged := !labels.Equals(old.Labels, cur.Labels)
	curRef, oldRef := metav1.GetControllerOf(cur), metav1.GetControllerOf(old)
	refChanged := (curRef == nil) != (oldRef == nil) || (curRef != nil && curRef.UID != oldRef.UID)
	if refChanged && oldRef != nil {
		if set := c.resolveRef(old.Namespace, oldRef); set != nil {
			c.enqueue(set)
		}
	}
	if curRef != nil {
		set := c.resolveRef(cur.Namespace, curRef)
		if set == nil {
			return
		}
		c.enqueue(set)
		if set.Spec.MinReadySeconds > 0 && !isReady(old) && isReady(cur) {
			c.queue.AddAfter(cacheKey(set), time.Duration(set.Spec.MinReadySeconds)*time.Second)
		}
		return
	}
	if labelsChanged || refChanged {
		for _, set := range c.setsForPod(cur) {
			c.enqueue(set)
		}
	}
}

func (c *Controller) deletePod(obj interface{}) {
	pod, ok := controller.DeletedPod(obj)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		if set := c.resolveRef(pod.Namespace, ref); set != nil {
			c.enqueue(set)
		}
	}
}

func cacheKey(set *appsv1.StatefulSet) string { return set.Namespace + "/" + set.Name }
