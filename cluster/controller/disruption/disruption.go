// Package disruption is the policy/v1 PodDisruptionBudget controller (Kubernetes 1.32's
// pkg/controller/disruption): for every budget it counts the pods its selector matches, how many
// are healthy (Ready, not being deleted, not just approved for eviction), how many are expected
// (the scale of the pods' controllers: ReplicationController, ReplicaSet, Deployment, StatefulSet,
// or any resource with a scale subresource) and how many must stay healthy (minAvailable or
// maxUnavailable, as numbers or percentages), and writes disruptionsAllowed and the
// DisruptionAllowed condition that the API server's eviction subresource consumes. Entries of
// status.disruptedPods (evictions approved but not yet seen as deletions) expire after
// DeletionTimeout. It also resets a pod's DisruptionTarget condition that an eviction set but
// that no deletion followed (stalePodDisruptionTimeout).
package disruption

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cluster/controller"
)

const (
	// DeletionTimeout is how long a pod stays in status.disruptedPods waiting to be seen being
	// deleted; after that the eviction is assumed not to have happened (Kubernetes' value).
	DeletionTimeout = 2 * time.Minute
	// stalePodDisruptionTimeout: a DisruptionTarget=True condition on a pod no deletion followed
	// is set to False after this long.
	stalePodDisruptionTimeout = 2 * time.Minute
	// Component is the source of the controller's events (Kubernetes' "controllermanager").
	Component = "controllermanager"
)

// Controller is the PodDisruptionBudget controller.
type Controller struct {
	client    kubernetes.Interface
	pdbs      policylisters.PodDisruptionBudgetLister
	pods      corelisters.PodLister
	rcs       corelisters.ReplicationControllerLister
	rss       appslisters.ReplicaSetLister
	deploys   appslisters.DeploymentLister
	sts       appslisters.StatefulSetLister
	synced    []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
	stalePods workqueue.TypedRateLimitingInterface[string]
	recorder  record.EventRecorder
	clock     clock.WithTicker
	workers   int
	log       *slog.Logger
	// scales finds the scale of controllers of kinds the listers do not cover (nil: none).
	scales scaleFinder
}

// New builds the controller from the manager's context.
func New(cc controller.Context) (*Controller, error) {
	core, apps := cc.Informers.Core().V1(), cc.Informers.Apps().V1()
	pdbInf := cc.Informers.Policy().V1().PodDisruptionBudgets()
	podInf, rcInf := core.Pods(), core.ReplicationControllers()
	rsInf, dInf, ssInf := apps.ReplicaSets(), apps.Deployments(), apps.StatefulSets()
	clk := cc.ClockOrReal()
	c := &Controller{
		client: cc.Client,
		pdbs:   pdbInf.Lister(), pods: podInf.Lister(), rcs: rcInf.Lister(),
		rss: rsInf.Lister(), deploys: dInf.Lister(), sts: ssInf.Lister(),
		synced: []cache.InformerSynced{pdbInf.Informer().HasSynced, podInf.Informer().HasSynced, rcInf.Informer().HasSynced,
			rsInf.Informer().HasSynced, dInf.Informer().HasSynced, ssInf.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "disruption", Clock: clk}),
		stalePods: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "stale_pod_disruption", Clock: clk}),
		recorder: cc.EventRecorder(Component),
		clock:    clk,
		workers:  cc.Options.WithDefaults().Workers,
		log:      cc.LoggerOrDiscard(),
		scales:   newScaleFinder(cc.Client),
	}
	if _, err := pdbInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueue, UpdateFunc: func(_, n interface{}) { c.enqueue(n) }, DeleteFunc: c.enqueue,
	}); err != nil {
		return nil, fmt.Errorf("disruption: pdb handler: %w", err)
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.podChanged, UpdateFunc: func(_, n interface{}) { c.podChanged(n) }, DeleteFunc: c.podDeleted,
	}); err != nil {
		return nil, fmt.Errorf("disruption: pod handler: %w", err)
	}
	return c, nil
}

// Name is "disruption".
func (c *Controller) Name() string { return "disruption" }

// Run works until ctx ends: the budgets' workers and the stale-condition worker.
func (c *Controller) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return controller.RunWorkers(ctx, c.log, c.queue, c.synced, c.workers, c.sync) })
	g.Go(func() error {
		return controller.RunWorkers(ctx, c.log, c.stalePods, c.synced, 1, c.syncStalePodDisruption)
	})
	return g.Wait()
}

func (c *Controller) enqueue(obj interface{}) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}
