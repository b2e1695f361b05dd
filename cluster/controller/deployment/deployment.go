// Package deployment is the apps/v1 Deployment controller: for every Deployment it keeps a
// ReplicaSet per pod template (named NAME-HASH, the template's pod-template-hash in its
// selector and labels), rolls pods from the old ReplicaSets to the new one by the Deployment's
// strategy (RollingUpdate within maxSurge/maxUnavailable, or Recreate), keeps the revision
// history on the ReplicaSets' annotations (so `kubectl rollout history|undo` work), scales
// proportionally when replicas change mid-rollout, and reports status and the Progressing and
// Available conditions as Kubernetes' pkg/controller/deployment does (so `kubectl rollout
// status` and `helm upgrade --wait` behave). The ReplicaSet controller makes the pods.
//
// The decisions (sizes, conditions, what to clean up) are pure functions of the Deployment and
// its ReplicaSets as the caches show them (plan.go, status.go, revision.go, fenceposts.go);
// sync.go, rolling.go and recreate.go apply them.
package deployment

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cluster/controller"
)

// Component is the source of the events the controller records.
const Component = "deployment-controller"

var (
	deploymentKind = appsv1.SchemeGroupVersion.WithKind("Deployment")
	rsKind         = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
)

// Controller is the Deployment controller.
type Controller struct {
	client   kubernetes.Interface
	ds       appslisters.DeploymentLister
	rss      appslisters.ReplicaSetLister
	pods     corelisters.PodLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	recorder record.EventRecorder
	clock    clock.Clock
	workers  int
	log      *slog.Logger
}

// New builds the Deployment controller from the manager's context.
func New(cc controller.Context) (*Controller, error) {
	dInf := cc.Informers.Apps().V1().Deployments()
	rsInf := cc.Informers.Apps().V1().ReplicaSets()
	podInf := cc.Informers.Core().V1().Pods()
	c := &Controller{
		client:   cc.Client,
		ds:       dInf.Lister(),
		rss:      rsInf.Lister(),
		pods:     podInf.Lister(),
		synced:   []cache.InformerSynced{dInf.Informer().HasSynced, rsInf.Informer().HasSynced, podInf.Informer().HasSynced},
		queue:    workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		recorder: cc.EventRecorder(Component),
		clock:    cc.ClockOrReal(),
		workers:  cc.Options.WithDefaults().Workers,
		log:      cc.LoggerOrDiscard(),
	}
	if _, err := dInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, n interface{}) { c.enqueue(n) },
		DeleteFunc: c.enqueue,
	}); err != nil {
		return nil, fmt.Errorf("deployment: deployment handler: %w", err)
	}
	if _, err := rsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addReplicaSet,
		UpdateFunc: c.updateReplicaSet,
		DeleteFunc: c.deleteReplicaSet,
	}); err != nil {
		return nil, fmt.Errorf("deployment: replicaset handler: %w", err)
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: c.deletePod,
	}); err != nil {
		return nil, fmt.Errorf("deployment: pod handler: %w", err)
	}
	return c, nil
}

// Name is "deployment".
func (c *Controller) Name() string { return "deployment" }

// Run works until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return controller.RunWorkers(ctx, c.log, c.queue, c.synced, c.workers, c.sync)
}

func (c *Controller) enqueue(obj interface{}) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

func (c *Controller) enqueueAfter(d *appsv1.Deployment, after time.Duration) {
	if key, err := cache.MetaNamespaceKeyFunc(d); err == nil {
		c.queue.AddAfter(key, after)
	}
}
