// Package daemonset is the apps/v1 DaemonSet controller: one pod of each DaemonSet on every
// node that should run it (spec.template's nodeSelector, required node affinity and tolerations,
// plus the tolerations Kubernetes adds to every daemon pod), following nodes as they join, change
// and leave. It follows Kubernetes 1.32's pkg/controller/daemon: each new pod names its node
// through a required node affinity on metadata.name and drover's scheduler binds it (so node
// resources, host ports and the PodScheduled condition apply as for any pod); ControllerRevisions
// with the controller-revision-hash label record the template's history; RollingUpdate
// (maxUnavailable, maxSurge) and OnDelete update strategies; status for `kubectl rollout status`.
package daemonset

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
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cluster/controller"
)

// BurstReplicas caps the creates or deletes of one sync (Kubernetes' default is 250 for daemons).
const BurstReplicas = 250

// StatusUpdateRetries is how often a status write is retried on a fresh read (as Kubernetes).
const StatusUpdateRetries = 1

// Component is the source of the events the controller records.
const Component = "daemonset-controller"

// Event reasons, as Kubernetes words them.
const (
	FailedDaemonPodReason    = "FailedDaemonPod"
	SucceededDaemonPodReason = "SucceededDaemonPod"
	SelectingAllReason       = "SelectingAll"
)

var dsKind = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

// Controller is the DaemonSet controller.
type Controller struct {
	client    kubernetes.Interface
	dss       appslisters.DaemonSetLister
	pods      corelisters.PodLister
	nodes     corelisters.NodeLister
	revisions appslisters.ControllerRevisionLister
	synced    []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
	exp       *controller.Expectations
	recorder  record.EventRecorder
	clock     clock.WithTicker
	// failedBackoff spaces out the deletion of failed daemon pods per DaemonSet and node, so a
	// node that keeps failing them is not hot-looped (1 s doubling to 15 min, as Kubernetes).
	failedBackoff *flowcontrol.Backoff
	workers       int
	log           *slog.Logger
}

// New builds the DaemonSet controller from the manager's context.
func New(cc controller.Context) (*Controller, error) {
	apps := cc.Informers.Apps().V1()
	dsInf, crInf := apps.DaemonSets(), apps.ControllerRevisions()
	podInf, nodeInf := cc.Informers.Core().V1().Pods(), cc.Informers.Core().V1().Nodes()
	clk := cc.ClockOrReal()
	c := &Controller{
		client:    cc.Client,
		dss:       dsInf.Lister(),
		pods:      podInf.Lister(),
		nodes:     nodeInf.Lister(),
		revisions: crInf.Lister(),
		synced: []cache.InformerSynced{dsInf.Informer().HasSynced, podInf.Informer().HasSynced,
			nodeInf.Informer().HasSynced, crInf.Informer().HasSynced},
		queue:         workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		exp:           controller.NewExpectations(clk),
		recorder:      cc.EventRecorder(Component),
		clock:         clk,
		failedBackoff: flowcontrol.NewBackOff(time.Second, 15*time.Minute),
		workers:       cc.Options.WithDefaults().Workers,
		log:           cc.LoggerOrDiscard(),
	}
	c.failedBackoff.Clock = clk
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandlerFuncs
	}{
		{dsInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: c.enqueue, UpdateFunc: func(_, n interface{}) { c.enqueue(n) }, DeleteFunc: c.dsDeleted}},
		{podInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: c.addPod, UpdateFunc: c.updatePod, DeleteFunc: c.deletePod}},
		{nodeInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: c.addNode, UpdateFunc: c.updateNode, DeleteFunc: c.deleteNode}},
		{crInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: c.revisionChanged, UpdateFunc: func(_, n interface{}) { c.revisionChanged(n) }, DeleteFunc: c.revisionChanged}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("daemonset: event handler: %w", err)
		}
	}
	return c, nil
}

// Name is "daemonset".
func (c *Controller) Name() string { return "daemonset" }

// Run works until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return controller.RunWorkers(ctx, c.log, c.queue, c.synced, c.workers, controller.NoRequeue(c.sync))
}

func (c *Controller) enqueue(obj interface{}) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

func (c *Controller) enqueueAfter(ds *appsv1.DaemonSet, d time.Duration) {
	if key, err := cache.MetaNamespaceKeyFunc(ds); err == nil {
		c.queue.AddAfter(key, d)
	}
}

func (c *Controller) dsDeleted(obj interface{}) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.exp.Forget(key)
		c.queue.Add(key)
	}
}
