// Package tainteviction is Kubernetes' taint eviction controller (the "taint manager"): a pod
// bound to a node with a NoExecute taint it does not tolerate is deleted at once; one that
// tolerates every such taint, some for a limited tolerationSeconds, is deleted when the
// shortest of those has passed since the controller saw it under the taints (a toleration
// without tolerationSeconds tolerates for ever). Before the deletion the pod gets the
// DisruptionTarget condition (DeletionByTaintManager), and an event TaintManagerEviction
// "Marking for deletion Pod NS/NAME". The node lifecycle's own taints
// (node.kubernetes.io/unreachable and not-ready) are left to the node lifecycle controller,
// which evicts after --pod-eviction-timeout (drover has no DefaultTolerationSeconds admission
// giving pods their 300 s tolerations of them).
package tainteviction

import (
	"context"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cluster/controller"
)

// Controller deletes pods from nodes whose NoExecute taints they do not tolerate.
type Controller struct {
	client   kubernetes.Interface
	nodes    corelisters.NodeLister
	pods     corelisters.PodLister
	podIndex cache.Indexer // by controller.PodNodeNameIndex
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	clock    clock.PassiveClock
	recorder record.EventRecorder
	workers  int
	log      *slog.Logger

	mu sync.Mutex
	// since is when each pod (by namespace/name) was first seen tolerating its node's
	// NoExecute taints for a limited time: its eviction is due tolerationSeconds after.
	since map[string]time.Time
}

// New builds the controller from the manager's context.
func New(cc controller.Context) (*Controller, error) {
	nodeInf := cc.Informers.Core().V1().Nodes()
	podInf := cc.Informers.Core().V1().Pods()
	var clk clock.PassiveClock = clock.RealClock{}
	if cc.Clock != nil {
		clk = cc.Clock
	}
	var rec record.EventRecorder = &record.FakeRecorder{}
	if cc.Recorder != nil {
		rec = cc.Recorder("taint-eviction-controller")
	}
	c := &Controller{
		client: cc.Client, nodes: nodeInf.Lister(), pods: podInf.Lister(), podIndex: podInf.Informer().GetIndexer(),
		synced: []cache.InformerSynced{nodeInf.Informer().HasSynced, podInf.Informer().HasSynced},
		queue:  workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		clock:  clk, recorder: rec, workers: cc.Options.WithDefaults().Workers, log: cc.LoggerOrDiscard(),
		since: map[string]time.Time{},
	}
	if err := controller.AddPodNodeNameIndex(podInf.Informer()); err != nil {
		return nil, err
	}
	enqueuePod := func(obj interface{}) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			c.queue.Add(key)
		}
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueuePod, UpdateFunc: func(_, n interface{}) { enqueuePod(n) }, DeleteFunc: enqueuePod,
	}); err != nil {
		return nil, err
	}
	if _, err := nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.nodeChanged,
		UpdateFunc: c.nodeUpdated,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Name is "tainteviction".
func (c *Controller) Name() string { return "tainteviction" }

// Run works until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return controller.RunWorkers(ctx, c.log, c.queue, c.synced, c.workers, c.sync)
}

// nodeUpdated queues the pods of a node whose NoExecute taints changed, as Kubernetes' taint
// manager (NodeUpdated): a Node's status posts and other updates leave them alone.
func (c *Controller) nodeUpdated(oldObj, newObj interface{}) {
	o, ok1 := oldObj.(*corev1.Node)
	n, ok2 := newObj.(*corev1.Node)
	if ok1 && ok2 && equality.Semantic.DeepEqual(NoExecuteTaints(o), NoExecuteTaints(n)) {
		return
	}
	c.nodeChanged(newObj)
}

// nodeChanged queues the pods of a node (its taints may have changed).
func (c *Controller) nodeChanged(obj interface{}) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	pods, err := controller.PodsOnNode(c.podIndex, n.Name)
	if err != nil {
		c.log.Warn("taint eviction: pods of a node", "node", n.Name, "err", err)
		return
	}
	for _, p := range pods {
		c.queue.Add(p.Namespace + "/" + p.Name)
	}
}
