// Package nodeipam gives every Node a pod subnet: spec.podCIDR (and podCIDRs) is the next free
// block of --node-cidr-mask-size bits from --cluster-cidr (a /24 of 10.244.0.0/16 by default),
// as Kubernetes' node IPAM controller does. The allocation is rebuilt from the Nodes at start,
// so a restarted (or newly elected) controller never hands out a subnet twice; a deleted
// Node's subnet is free again. When the cluster CIDR is used up, the Node gets a
// CIDRNotAvailable warning event and waits until another Node goes.
package nodeipam

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/drover-ci/drover/cluster/controller"
)

// Event reasons, as Kubernetes' node IPAM controller names them.
const (
	ReasonCIDRNotAvailable = "CIDRNotAvailable"
	ReasonCIDRAssigned     = "CIDRAssigned"
	// ReasonCIDRCollision: a Node arrived with a pod subnet another Node already has.
	ReasonCIDRCollision = "CIDRCollision"
)

// Controller allocates pod subnets to Nodes.
type Controller struct {
	client   kubernetes.Interface
	nodes    corelisters.NodeLister
	synced   cache.InformerSynced
	recorder record.EventRecorder
	queue    workqueue.TypedRateLimitingInterface[string]
	alloc    *Allocator // nil: allocation is off (--cluster-cidr none)
	// owner is the subnet this controller gave each node (by name), so that a node seen
	// again from a lagging cache gets the same one.
	owner     map[string]netip.Prefix
	exhausted map[string]bool // nodes told CIDRNotAvailable, until they get a subnet: told once
	log       *slog.Logger
}

// New builds the controller from the manager's context.
func New(cc controller.Context) (*Controller, error) {
	opts := cc.Options.WithDefaults()
	c := &Controller{client: cc.Client, owner: map[string]netip.Prefix{}, exhausted: map[string]bool{}, log: cc.LoggerOrDiscard()}
	if opts.ClusterCIDR != "none" {
		a, err := NewAllocator(opts.ClusterCIDR, opts.NodeCIDRMaskSize)
		if err != nil {
			return nil, err
		}
		c.alloc = a
	}
	c.recorder = &record.FakeRecorder{}
	if cc.Recorder != nil {
		c.recorder = cc.Recorder("node-ipam-controller")
	}
	inf := cc.Informers.Core().V1().Nodes()
	c.nodes, c.synced = inf.Lister(), inf.Informer().HasSynced
	c.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](200*time.Millisecond, 30*time.Second),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "nodeipam"})
	if c.alloc == nil {
		return c, nil
	}
	_, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj interface{}) { c.enqueue(obj) },
		UpdateFunc: func(_, obj interface{}) { c.enqueue(obj) },
		DeleteFunc: c.nodeDeleted,
	})
	return c, err
}

// Name is "nodeipam".
func (c *Controller) Name() string { return "nodeipam" }

// enqueue queues every added or updated Node, also one that arrives with a podCIDR already
// set (re-created from a manifest, set by hand, or written by a former leader): Sync marks
// that subnet as used so it is never handed out again.
func (c *Controller) enqueue(obj interface{}) {
	if n, ok := obj.(*corev1.Node); ok {
		c.queue.Add(n.Name)
	}
}

// nodeDeleted queues a release of the node's subnet (done by the worker, which owns the
// allocator).
func (c *Controller) nodeDeleted(obj interface{}) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if n, ok := obj.(*corev1.Node); ok {
		c.queue.Add(n.Name)
	}
}

// Run rebuilds the allocation from the Nodes, then serves the queue until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	stop := controller.ShutDownOnDone(ctx, c.queue)
	defer stop()
	if c.alloc == nil {
		<-ctx.Done()
		return nil
	}
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return ctx.Err()
	}
	if err := c.Rebuild(); err != nil {
		return err
	}
	// One worker: the allocator and the maps are its alone.
	return controller.RunWorkers(ctx, c.log, c.queue, nil, 1, controller.NoRequeue(func(ctx context.Context, name string) error {
		if err := c.Sync(ctx, name); err != nil && ctx.Err() == nil {
			return err
		}
		return nil
	}))
}

// ownerOf is the node that holds subnet p ("" for none).
func (c *Controller) ownerOf(p netip.Prefix) string {
	for name, q := range c.owner {
		if q == p {
			return name
		}
	}
	return ""
}

// Rebuild marks every subnet Nodes already have as used and queues the Nodes without one.
func (c *Controller) Rebuild() error {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if n.Spec.PodCIDR == "" {
			c.queue.Add(n.Name)
			continue
		}
		p, err := netip.ParsePrefix(n.Spec.PodCIDR)
		if err != nil {
			continue
		}
		if err := c.alloc.Occupy(p); err != nil {
			// Outside the cluster CIDR (a node agent's own --subnet, set by hand, or a changed
			// --cluster-cidr): left alone.
			c.log.Info("node's podCIDR is not from the cluster CIDR; left as is", "node", n.Name, "podCIDR", p, "err", err)
			continue
		}
		c.owner[n.Name] = p
	}
	c.log.Info("allocation rebuilt", "clusterCIDR", c.alloc.ClusterCIDR(), "used", c.alloc.Used(), "free", c.alloc.Free())
	return nil
}

// Sync gives the named Node a subnet if it has none, or frees the subnet of a Node that is gone.
func (c *Controller) Sync(ctx context.Context, name string) error {
	n, err := c.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		c.release(name)
		return nil
	}
	if err != nil {
		return err
	}
	if n.Spec.PodCIDR != "" {
		if p, err := netip.ParsePrefix(n.Spec.PodCIDR); err == nil && c.owner[name] != p {
			// Someone else set it (or we learn of it late): take note so it is never handed out.
			if err := c.alloc.Occupy(p); err == nil {
				c.release(name)
				c.owner[name] = p
			} else if other := c.ownerOf(p); other != "" && other != name {
				c.recorder.Eventf(n, corev1.EventTypeWarning, ReasonCIDRCollision,
					"Node %s has pod subnet %s, which node %s already has: pods of one of them are unreachable", name, p, other)
				c.log.Warn("two nodes have the same pod subnet", "node", name, "other", other, "podCIDR", p)
			}
		}
		return nil
	}
	p, ok := c.owner[name]
	if !ok {
		p, err = c.alloc.Next()
		if err != nil {
			level := slog.LevelDebug // told already
			if !c.exhausted[name] {
				c.exhausted[name] = true
				c.recorder.Eventf(n, corev1.EventTypeWarning, ReasonCIDRNotAvailable,
					"Node %s status is now: %s (no free /%d left in %s: %d node subnets; a longer --node-cidr-mask-size or a larger --cluster-cidr fits more)",
					name, ReasonCIDRNotAvailable, c.alloc.MaskSize(), c.alloc.ClusterCIDR(), c.alloc.Used()+c.alloc.Free())
				level = slog.LevelWarn
			}
			c.log.Log(ctx, level, "no pod subnet left", "node", name, "clusterCIDR", c.alloc.ClusterCIDR())
			return nil // requeued when a node is deleted
		}
		c.owner[name] = p
		delete(c.exhausted, name)
	}
	upd := n.DeepCopy()
	upd.Spec.PodCIDR, upd.Spec.PodCIDRs = p.String(), []string{p.String()}
	if _, err := c.client.CoreV1().Nodes().Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			c.release(name)
			return nil
		}
		// Keep the subnet reserved for this node: the retry (conflict: a newer Node) uses it.
		return fmt.Errorf("set podCIDR %s: %w", p, err)
	}
	c.log.Info("pod subnet assigned", "node", name, "podCIDR", p)
	c.recorder.Eventf(n, corev1.EventTypeNormal, ReasonCIDRAssigned, "Node %s was given pod subnet %s", name, p)
	return nil
}

// release frees the subnet the named node had and retries the nodes waiting for one.
func (c *Controller) release(name string) {
	delete(c.exhausted, name) // a deleted node waits for nothing any more
	p, ok := c.owner[name]
	if !ok {
		return
	}
	delete(c.owner, name)
	c.alloc.Release(p)
	c.log.Info("pod subnet released", "node", name, "podCIDR", p)
	// They keep their mark: the one that gets the subnet loses it, the others were told
	// already and are not warned again.
	for waiting := range c.exhausted {
		c.queue.Add(waiting)
	}
}
