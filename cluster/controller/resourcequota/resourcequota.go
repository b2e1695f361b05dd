// Package resourcequota is Kubernetes' resource quota controller: it keeps every
// ResourceQuota's status true — status.hard is spec.hard, status.used what the namespace's
// objects use (cluster/quota measures it: pods that are not terminal, their cpu and memory
// requests and limits, services, claims, object counts). A quota is recalculated when it is
// created or its spec changes, when something in its namespace is released (a pod deleted or
// finished, a service, claim, config map, secret or replication controller deleted, a service
// or claim changed, an apps/v1 or batch/v1 workload deleted), and every ResyncPeriod. The API server's quota admission charges creates
// to status.used as they happen; this controller gives back what is released.
package resourcequota

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	quotav1 "k8s.io/apiserver/pkg/quota/v1"
	"k8s.io/apiserver/pkg/quota/v1/generic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/cluster/quota"
)

// ResyncPeriod is how often every quota is recalculated in full
// (kube-controller-manager's --resource-quota-sync-period).
const ResyncPeriod = 5 * time.Minute

// watched are the resources whose informers drive recalculation and serve the usage: the
// core ones quotas measure, and the workloads of apps/v1 and batch/v1 that object-count quotas
// (count/replicasets.apps, count/jobs.batch) name, whose informers the controller manager
// keeps anyway. Kubernetes' quota monitor watches every namespaced resource for deletions;
// an object count of another resource is given back at the next full recalculation
// (ResyncPeriod).
// informerCounted are the watched resources whose usage is read from the informers.
var informerCounted = map[schema.GroupResource]bool{
	{Resource: "pods"}: true, {Resource: "services"}: true, {Resource: "persistentvolumeclaims"}: true,
}

var watched = []schema.GroupVersionResource{
	corev1.SchemeGroupVersion.WithResource("pods"),
	corev1.SchemeGroupVersion.WithResource("services"),
	corev1.SchemeGroupVersion.WithResource("persistentvolumeclaims"),
	corev1.SchemeGroupVersion.WithResource("configmaps"),
	corev1.SchemeGroupVersion.WithResource("secrets"),
	corev1.SchemeGroupVersion.WithResource("replicationcontrollers"),
	corev1.SchemeGroupVersion.WithResource("resourcequotas"),
	appsv1.SchemeGroupVersion.WithResource("replicasets"),
	appsv1.SchemeGroupVersion.WithResource("deployments"),
	appsv1.SchemeGroupVersion.WithResource("statefulsets"),
	appsv1.SchemeGroupVersion.WithResource("daemonsets"),
	batchv1.SchemeGroupVersion.WithResource("jobs"),
	batchv1.SchemeGroupVersion.WithResource("cronjobs"),
}

// Controller keeps ResourceQuota status. Its queue holds quota keys (namespace/name).
type Controller struct {
	client  kubernetes.Interface
	quotas  corelisters.ResourceQuotaLister
	factory informers.SharedInformerFactory
	eval    *quota.Evaluators
	clock   clock.WithTicker
	synced  []cache.InformerSynced
	queue   workqueue.TypedRateLimitingInterface[string]
	workers int
	log     *slog.Logger
}

// New builds the controller from the manager's context.
func New(cc controller.Context) (*Controller, error) {
	opts := cc.Options.WithDefaults()
	c := &Controller{client: cc.Client, factory: cc.Informers, clock: cc.ClockOrReal(), workers: opts.Workers, log: cc.LoggerOrDiscard(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "resourcequota"})}
	c.eval = quota.New(c.lister, c.clock.Now)
	rq := cc.Informers.Core().V1().ResourceQuotas()
	c.quotas = rq.Lister()
	if _, err := rq.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueueQuota,
		UpdateFunc: func(old, cur interface{}) {
			o, n := old.(*corev1.ResourceQuota), cur.(*corev1.ResourceQuota)
			// Status changes are this controller's and admission's own: only a new spec, or a
			// status that does not yet reflect it, calls for a recalculation.
			if !quotav1.Equals(o.Spec.Hard, n.Spec.Hard) || !quotav1.Equals(n.Spec.Hard, n.Status.Hard) {
				c.enqueueQuota(cur)
			}
		},
	}); err != nil {
		return nil, err
	}
	for _, gvr := range watched {
		inf, err := cc.Informers.ForResource(gvr)
		if err != nil {
			return nil, err
		}
		c.synced = append(c.synced, inf.Informer().HasSynced)
		if gvr.Resource == "resourcequotas" {
			continue
		}
		if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			UpdateFunc: func(old, cur interface{}) {
				if released(old, cur, c.clock.Now()) {
					c.enqueueNamespace(cur)
				}
			},
			DeleteFunc: c.enqueueNamespace,
		}); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// released reports whether an update may lower usage: a pod that stopped counting (finished,
// or past its deletion grace period), a service or claim whose spec changed.
func released(old, cur interface{}, now time.Time) bool {
	switch o := old.(type) {
	case *corev1.Pod:
		n := cur.(*corev1.Pod)
		return quota.Counts(o, now) && !quota.Counts(n, now) || o.Status.Phase != n.Status.Phase && !quota.Counts(n, now)
	case *corev1.Service:
		return !apiequality.Semantic.DeepEqual(o.Spec, cur.(*corev1.Service).Spec)
	case *corev1.PersistentVolumeClaim:
		return !apiequality.Semantic.DeepEqual(o.Spec, cur.(*corev1.PersistentVolumeClaim).Spec)
	}
	return false
}

// Name is "resourcequota".
func (c *Controller) Name() string { return "resourcequota" }

// Run serves the queue until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return controller.RunWorkers(ctx, c.log, c.queue, c.synced, c.workers, c.Sync)
}

func (c *Controller) enqueueQuota(obj interface{}) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

// enqueueNamespace queues every quota of obj's namespace.
func (c *Controller) enqueueNamespace(obj interface{}) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	quotas, err := c.quotas.ResourceQuotas(m.GetNamespace()).List(labels.Everything())
	if err != nil {
		return
	}
	for _, q := range quotas {
		c.enqueueQuota(q)
	}
}

// Sync recalculates one quota's status and writes it when it changed; the quota comes back
// after ResyncPeriod.
func (c *Controller) Sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	// The quota is read from the API, not the informer: admission charges status.used as
	// objects are created, and a cached copy that missed a charge would make a recalculation
	// look like no change and leave the charge of a since-deleted object in place.
	rq, err := c.client.CoreV1().ResourceQuotas(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	next, err := c.status(rq)
	c.log.Debug("quota recalculated", "quota", key, "resourceVersion", rq.ResourceVersion, "changed", next != nil)
	if next != nil {
		if _, uerr := c.client.CoreV1().ResourceQuotas(ns).UpdateStatus(ctx, next, metav1.UpdateOptions{}); uerr != nil {
			return 0, uerr
		}
	}
	if err != nil {
		return 0, err
	}
	return ResyncPeriod, nil
}

// status is Kubernetes' syncResourceQuota: hard from spec, used recalculated (a resource whose
// usage could not be measured keeps its last value); nil when nothing changed.
func (c *Controller) status(rq *corev1.ResourceQuota) (*corev1.ResourceQuota, error) {
	dirty := !apiequality.Semantic.DeepEqual(rq.Spec.Hard, rq.Status.Hard) || rq.Status.Hard == nil || rq.Status.Used == nil
	used := quotav1.Add(corev1.ResourceList{}, rq.Status.Used)
	hard := quotav1.Add(corev1.ResourceList{}, rq.Spec.Hard)
	newUsage, err := c.eval.CalculateUsage(rq.Namespace, rq)
	for k, v := range newUsage {
		used[k] = v
	}
	used = quotav1.Mask(used, quotav1.ResourceNames(hard))
	if !dirty && quotav1.Equals(used, rq.Status.Used) {
		return nil, err
	}
	next := rq.DeepCopy()
	next.Status = corev1.ResourceQuotaStatus{Hard: hard, Used: used}
	return next, err
}

// lister lists a resource's objects in a namespace: pods, services and claims (whose usage is
// more than a count) from the informers, everything else from the API — a consistent read:
// an informer a moment behind would count an object created just before the quota as absent
// (CI saw count/deployments.apps 0 with one deployment made before its quota), and only the
// number of those matters.
func (c *Controller) lister(gr schema.GroupResource) generic.ListFuncByNamespace {
	for _, gvr := range watched {
		if gvr.GroupResource() == gr && informerCounted[gr] {
			return func(ns string) ([]runtime.Object, error) {
				inf, err := c.factory.ForResource(gvr)
				if err != nil {
					return nil, err
				}
				return inf.Lister().ByNamespace(ns).List(labels.Everything())
			}
		}
	}
	return func(ns string) ([]runtime.Object, error) { return c.listAPI(gr, ns) }
}

// listAPI counts the objects of any resource in ns through the API, in the group's preferred
// version.
func (c *Controller) listAPI(gr schema.GroupResource, ns string) ([]runtime.Object, error) {
	path := "/api/v1"
	if gr.Group != "" {
		groups, err := c.client.Discovery().ServerGroups()
		if err != nil {
			return nil, err
		}
		path = ""
		for _, g := range groups.Groups {
			if g.Name == gr.Group {
				path = "/apis/" + g.Name + "/" + g.PreferredVersion.Version
			}
		}
		if path == "" {
			return nil, nil // a group not served has no objects
		}
	}
	raw, err := c.client.Discovery().RESTClient().Get().AbsPath(path, "namespaces", ns, gr.Resource).
		DoRaw(context.Background())
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", gr, err)
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("list %s: %w", gr, err)
	}
	out := make([]runtime.Object, len(list.Items))
	for i := range out {
		out[i] = &metav1.PartialObjectMetadata{}
	}
	return out, nil
}
