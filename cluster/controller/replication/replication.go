// Package replication is the replication manager: for every apps/v1 ReplicaSet (NewReplicaSet)
// or v1 ReplicationController (New) it keeps spec.replicas active pods matching the selector,
// adopting orphans and releasing pods that no longer match through ownerReferences, and reports
// status. It follows Kubernetes' pkg/controller/replicaset: expectations so that a lagging
// cache never creates or deletes twice, slow-start bursts of creates, and the same choice of
// which pods to delete. One implementation serves both kinds: the ReplicationController
// manager is the ReplicaSet manager over a conversion (kind.go), as in Kubernetes.
package replication

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cluster/controller"
)

// BurstReplicas caps the creates or deletes of one sync (Kubernetes' default is 500).
const BurstReplicas = 500

// Component and ReplicaSetComponent are the sources of the events the managers record.
const (
	Component           = "replication-controller"
	ReplicaSetComponent = "replicaset-controller"
)

// Controller is the replication manager.
type Controller struct {
	name     string
	client   kubernetes.Interface
	kind     kind
	pods     corelisters.PodLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	exp      *controller.Expectations
	recorder record.EventRecorder
	clock    clock.Clock
	workers  int
	log      *slog.Logger
}

// New builds the ReplicationController manager from the manager's context.
func New(cc controller.Context) (*Controller, error) {
	inf := cc.Informers.Core().V1().ReplicationControllers()
	return newController(cc, "replication", Component, rcKindOps{client: cc.Client, lister: inf.Lister()}, inf.Informer())
}

// NewReplicaSet builds the ReplicaSet manager from the manager's context.
func NewReplicaSet(cc controller.Context) (*Controller, error) {
	inf := cc.Informers.Apps().V1().ReplicaSets()
	return newController(cc, "replicaset", ReplicaSetComponent, rsKindOps{client: cc.Client, lister: inf.Lister()}, inf.Informer())
}

func newController(cc controller.Context, name, component string, k kind, inf cache.SharedIndexInformer) (*Controller, error) {
	podInf := cc.Informers.Core().V1().Pods()
	clk := cc.ClockOrReal()
	c := &Controller{
		name:    name,
		client:  cc.Client,
		kind:    k,
		pods:    podInf.Lister(),
		synced:  []cache.InformerSynced{inf.HasSynced, podInf.Informer().HasSynced},
		queue:   workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		exp:     controller.NewExpectations(clk),
		clock:   clk,
		workers: cc.Options.WithDefaults().Workers,
		log:     cc.LoggerOrDiscard(),
	}
	c.recorder = cc.EventRecorder(component)
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, n interface{}) { c.enqueue(n) },
		DeleteFunc: c.ownerDeleted,
	}); err != nil {
		return nil, fmt.Errorf("%s: %s handler: %w", name, k.gvk().Kind, err)
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	}); err != nil {
		return nil, fmt.Errorf("%s: pod handler: %w", name, err)
	}
	return c, nil
}

// Name is "replication" for the ReplicationController manager, "replicaset" for the
// ReplicaSet manager.
func (c *Controller) Name() string { return c.name }

// Run works until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return controller.RunWorkers(ctx, c.log, c.queue, c.synced, c.workers, controller.NoRequeue(c.sync))
}

func (c *Controller) enqueue(obj interface{}) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

func (c *Controller) enqueueAfter(rc *appsv1.ReplicaSet, d time.Duration) {
	if key, err := cache.MetaNamespaceKeyFunc(rc); err == nil {
		c.queue.AddAfter(key, d)
	}
}

func (c *Controller) ownerDeleted(obj interface{}) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.exp.Forget(key)
		c.queue.Add(key)
	}
}
