// Package nodelifecycle watches node heartbeats: a node whose Lease (kube-node-lease) has not
// been renewed within the grace period gets its conditions set to Unknown, the
// node.kubernetes.io/unreachable taints, and its pods Ready=False; once it has been NotReady
// for the eviction timeout its pods are deleted, so their controllers recreate them on other
// nodes (a pod tolerating the NoExecute taint is deleted after its tolerationSeconds instead,
// or never when it tolerates it without a limit, as daemon pods do). When the node comes back,
// its agent finishes those deletions and removes the stale containers.
package nodelifecycle

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	coordlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/cluster/controller/tainteviction"
)

// Taints put on a node that stopped reporting.
var (
	TaintUnreachableNoSchedule = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule}
	TaintUnreachableNoExecute  = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}
)

// MonitorPeriod is how often every node is checked.
const MonitorPeriod = 2 * time.Second

// Controller is the node lifecycle controller.
type Controller struct {
	client   kubernetes.Interface
	nodes    corelisters.NodeLister
	leases   coordlisters.LeaseLister
	pods     corelisters.PodLister
	podIndex cache.Indexer // by controller.PodNodeNameIndex
	synced   []cache.InformerSynced
	clock    clock.WithTicker
	grace    time.Duration
	eviction time.Duration
	recorder record.EventRecorder
	log      *slog.Logger
}

// New builds the controller from the manager's context.
func New(cc controller.Context) (*Controller, error) {
	opts := cc.Options.WithDefaults()
	nodeInf := cc.Informers.Core().V1().Nodes()
	leaseInf := cc.Informers.Coordination().V1().Leases()
	podInf := cc.Informers.Core().V1().Pods()
	clk := cc.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	var rec record.EventRecorder = &record.FakeRecorder{}
	if cc.Recorder != nil {
		rec = cc.Recorder("node-controller")
	}
	if err := controller.AddPodNodeNameIndex(podInf.Informer()); err != nil {
		return nil, err
	}
	return &Controller{
		client: cc.Client, nodes: nodeInf.Lister(), leases: leaseInf.Lister(), pods: podInf.Lister(), podIndex: podInf.Informer().GetIndexer(),
		synced: []cache.InformerSynced{nodeInf.Informer().HasSynced, leaseInf.Informer().HasSynced, podInf.Informer().HasSynced},
		clock:  clk, grace: opts.NodeMonitorGracePeriod, eviction: opts.PodEvictionTimeout, recorder: rec,
		log: cc.LoggerOrDiscard(),
	}, nil
}

// Name is "nodelifecycle".
func (c *Controller) Name() string { return "nodelifecycle" }

// Run checks every node each MonitorPeriod until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return ctx.Err()
	}
	t := c.clock.NewTicker(MonitorPeriod)
	defer t.Stop()
	for {
		c.MonitorOnce(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
		}
	}
}

// MonitorOnce checks every node once.
func (c *Controller) MonitorOnce(ctx context.Context) {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return
	}
	for _, n := range nodes {
		if err := c.monitor(ctx, n); err != nil && ctx.Err() == nil {
			level := slog.LevelWarn
			if apierrors.IsConflict(err) {
				level = slog.LevelDebug // the node changed meanwhile; the next check sees it
			}
			c.log.Log(ctx, level, "node check failed", "node", n.Name, "err", err)
		}
	}
}

// lastHeartbeat is the newest of the Lease's renew time, the Ready condition's heartbeat and
// the node's creation.
func (c *Controller) lastHeartbeat(n *corev1.Node) time.Time {
	last := n.CreationTimestamp.Time
	if l, err := c.leases.Leases(corev1.NamespaceNodeLease).Get(n.Name); err == nil && l.Spec.RenewTime != nil && l.Spec.RenewTime.After(last) {
		last = l.Spec.RenewTime.Time
	}
	if rc := readyCondition(n); rc != nil && rc.Status != corev1.ConditionUnknown && rc.LastHeartbeatTime.After(last) {
		last = rc.LastHeartbeatTime.Time
	}
	return last
}

func (c *Controller) monitor(ctx context.Context, n *corev1.Node) error {
	now := c.clock.Now()
	rc := readyCondition(n)
	stale := now.Sub(c.lastHeartbeat(n)) > c.grace
	if stale && (rc == nil || rc.Status != corev1.ConditionUnknown) {
		if err := c.markUnknown(ctx, n, now); err != nil {
			return err
		}
		c.recorder.Eventf(&corev1.ObjectReference{Kind: "Node", Name: n.Name, UID: n.UID}, corev1.EventTypeNormal,
			"NodeNotReady", "Node %s status is now: NodeNotReady", n.Name)
		return c.markPodsNotReady(ctx, n.Name)
	}
	if !stale && hasTaint(n, TaintUnreachableNoExecute) {
		return c.setTaints(ctx, n.Name, false)
	}
	if rc == nil || rc.Status == corev1.ConditionTrue {
		return nil
	}
	// NotReady or Unknown: evict the pods as their tolerations of the NoExecute taint say.
	return c.evict(ctx, n, now.Sub(rc.LastTransitionTime.Time), rc.Status)
}

// markUnknown sets every condition of the node to Unknown and taints it unreachable.
func (c *Controller) markUnknown(ctx context.Context, n *corev1.Node, now time.Time) error {
	node := n.DeepCopy()
	t := metav1.NewTime(now)
	found := false
	for i := range node.Status.Conditions {
		cond := &node.Status.Conditions[i]
		if cond.Status != corev1.ConditionUnknown {
			cond.LastTransitionTime = t
		}
		cond.Status, cond.Reason, cond.Message = corev1.ConditionUnknown, "NodeStatusUnknown", "Kubelet stopped posting node status."
		found = found || cond.Type == corev1.NodeReady
	}
	if !found {
		node.Status.Conditions = append(node.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionUnknown,
			Reason: "NodeStatusNeverUpdated", Message: "Kubelet never posted node status.", LastTransitionTime: t})
	}
	if _, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("mark node unknown: %w", err)
	}
	c.log.Warn("node stopped reporting", "node", n.Name, "grace", c.grace)
	return c.setTaints(ctx, n.Name, true)
}

// setTaints adds or removes the unreachable taints.
func (c *Controller) setTaints(ctx context.Context, name string, add bool) error {
	node, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	var taints []corev1.Taint
	for _, t := range node.Spec.Taints {
		if t.Key != corev1.TaintNodeUnreachable {
			taints = append(taints, t)
		}
	}
	if add {
		now := metav1.NewTime(c.clock.Now())
		ns, ne := TaintUnreachableNoSchedule, TaintUnreachableNoExecute
		ne.TimeAdded = &now
		taints = append(taints, ns, ne)
	}
	node.Spec.Taints = taints
	_, err = c.client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
	return err
}

// markPodsNotReady sets Ready=False on the pods of the node.
func (c *Controller) markPodsNotReady(ctx context.Context, node string) error {
	pods, err := c.podsOn(ctx, node)
	if err != nil {
		return err
	}
	for i := range pods {
		p := &pods[i]
		changed := false
		for j := range p.Status.Conditions {
			cond := &p.Status.Conditions[j]
			if (cond.Type == corev1.PodReady || cond.Type == corev1.ContainersReady) && cond.Status != corev1.ConditionFalse {
				cond.Status, cond.Reason, cond.LastTransitionTime = corev1.ConditionFalse, "NodeNotReady", metav1.NewTime(c.clock.Now())
				changed = true
			}
		}
		if !changed {
			continue
		}
		if _, err := c.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("mark pod %s/%s not ready: %w", p.Namespace, p.Name, err)
		}
	}
	return nil
}

// evict deletes the pods of a node that has been NotReady (Unknown: unreachable) for
// notReadyFor: a pod that does not tolerate the node's NoExecute taint (unreachable, or
// not-ready) after the eviction timeout, one that tolerates it for tolerationSeconds once they
// have passed, one that tolerates it for ever (daemon pods) never.
func (c *Controller) evict(ctx context.Context, n *corev1.Node, notReadyFor time.Duration, status corev1.ConditionStatus) error {
	if notReadyFor < 0 {
		return nil
	}
	taint := TaintUnreachableNoExecute
	if status == corev1.ConditionFalse {
		taint.Key = corev1.TaintNodeNotReady
	}
	pods, err := c.podsOn(ctx, n.Name)
	if err != nil {
		return err
	}
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		tolerated, wait := tainteviction.Tolerated([]corev1.Taint{taint}, p.Spec.Tolerations)
		switch {
		case !tolerated && notReadyFor < c.eviction:
			continue
		case tolerated && (wait < 0 || notReadyFor < wait):
			continue
		}
		err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("evict pod %s/%s: %w", p.Namespace, p.Name, err)
		}
		c.recorder.Eventf(&p, corev1.EventTypeNormal, "NodeControllerEviction", "Marking for deletion Pod %s from Node %s", p.Name, n.Name)
		c.log.Info("evicted pod from unreachable node", "pod", p.Namespace+"/"+p.Name, "node", n.Name)
	}
	return nil
}

// podsOn returns copies of the pods bound to node, from the informer's cache.
func (c *Controller) podsOn(_ context.Context, node string) ([]corev1.Pod, error) {
	pods, err := controller.PodsOnNode(c.podIndex, node)
	if err != nil {
		return nil, err
	}
	out := make([]corev1.Pod, 0, len(pods))
	for _, p := range pods {
		out = append(out, *p.DeepCopy())
	}
	return out, nil
}

func readyCondition(n *corev1.Node) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

func hasTaint(n *corev1.Node, t corev1.Taint) bool {
	for _, x := range n.Spec.Taints {
		if x.Key == t.Key && x.Effect == t.Effect {
			return true
		}
	}
	return false
}
