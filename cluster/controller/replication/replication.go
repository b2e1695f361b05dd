// Package replication is the replication manager: for every v1 ReplicationController it keeps
// spec.replicas active pods matching the selector, adopting orphans and releasing pods that no
// longer match through ownerReferences, and reports status. It follows Kubernetes'
// pkg/controller/replicaset: expectations so that a lagging cache never creates or deletes
// twice, slow-start bursts of creates, and the same choice of which pods to delete.
package replication

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
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

// Component is the source of the events the controller records.
const Component = "replication-controller"

var rcKind = corev1.SchemeGroupVersion.WithKind("ReplicationController")

// Controller is the replication manager.
type Controller struct {
	client   kubernetes.Interface
	rcs      corelisters.ReplicationControllerLister
	pods     corelisters.PodLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	exp      *controller.Expectations
	recorder record.EventRecorder
	clock    clock.Clock
	workers  int
	log      *slog.Logger
}

// New builds the replication manager from the manager's context.
func New(cc controller.Context) (*Controller, error) {
	rcInf := cc.Informers.Core().V1().ReplicationControllers()
	podInf := cc.Informers.Core().V1().Pods()
	clk := cc.ClockOrReal()
	c := &Controller{
		client:  cc.Client,
		rcs:     rcInf.Lister(),
		pods:    podInf.Lister(),
		synced:  []cache.InformerSynced{rcInf.Informer().HasSynced, podInf.Informer().HasSynced},
		queue:   workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		exp:     controller.NewExpectations(clk),
		clock:   clk,
		workers: cc.Options.WithDefaults().Workers,
		log:     cc.LoggerOrDiscard(),
	}
	c.recorder = cc.EventRecorder(Component)
	if _, err := rcInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, n interface{}) { c.enqueue(n) },
		DeleteFunc: c.rcDeleted,
	}); err != nil {
		return nil, fmt.Errorf("replication: rc handler: %w", err)
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	}); err != nil {
		return nil, fmt.Errorf("replication: pod handler: %w", err)
	}
	return c, nil
}

// Name is "replication".
func (c *Controller) Name() string { return "replication" }

// Run works until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return controller.RunWorkers(ctx, c.log, c.queue, c.synced, c.workers, controller.NoRequeue(c.sync))
}

func (c *Controller) enqueue(obj interface{}) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

func (c *Controller) enqueueAfter(rc *corev1.ReplicationController, d time.Duration) {
	if key, err := cache.MetaNamespaceKeyFunc(rc); err == nil {
		c.queue.AddAfter(key, d)
	}
}

func (c *Controller) rcDeleted(obj interface{}) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.exp.Forget(key)
		c.queue.Add(key)
	}
}
