package daemonset

import (
	"context"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// sync brings one DaemonSet's pods, revisions and status in line with its spec (Kubernetes'
// syncDaemonSet).
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	ds, err := c.dss.DaemonSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.exp.Forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	if ds.Spec.Selector == nil || apiequality.Semantic.DeepEqual(*ds.Spec.Selector, metav1.LabelSelector{}) {
		c.recorder.Event(ds, corev1.EventTypeWarning, SelectingAllReason, "This daemon set is selecting all pods. A non-empty selector is required.")
		return nil
	}
	// A DaemonSet being deleted may already have lost its revisions: its status cannot be
	// worked out reliably, so it is left alone (as Kubernetes does).
	if ds.DeletionTimestamp != nil {
		return nil
	}
	cur, old, err := c.constructHistory(ctx, ds)
	if err != nil {
		return fmt.Errorf("failed to construct revisions of DaemonSet: %w", err)
	}
	hash := cur.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]
	if !c.exp.Satisfied(key) {
		// Only the status; observedGeneration stays until this generation has been acted on.
		return c.updateStatus(ctx, ds, nodes, hash, false)
	}
	updateErr := c.updateDaemonSet(ctx, key, ds, nodes, hash, old)
	statusErr := c.updateStatus(ctx, ds, nodes, hash, true)
	if updateErr != nil {
		return updateErr
	}
	return statusErr
}

// updateDaemonSet creates and deletes pods, rolls out a new template and trims the history.
func (c *Controller) updateDaemonSet(ctx context.Context, key string, ds *appsv1.DaemonSet, nodes []*corev1.Node, hash string, old []*appsv1.ControllerRevision) error {
	if err := c.manage(ctx, key, ds, nodes, hash); err != nil {
		return err
	}
	if c.exp.Satisfied(key) && ds.Spec.UpdateStrategy.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		if err := c.rollingUpdate(ctx, key, ds, nodes, hash); err != nil {
			return err
		}
	}
	if err := c.cleanupHistory(ctx, ds, old); err != nil {
		return fmt.Errorf("failed to clean up revisions of DaemonSet: %w", err)
	}
	return nil
}

// daemonPods lists the DaemonSet's pods, adopting orphans it selects and releasing pods it no
// longer selects.
func (c *Controller) daemonPods(ctx context.Context, ds *appsv1.DaemonSet) ([]*corev1.Pod, error) {
	all, err := c.pods.Pods(ds.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	return c.claimPods(ctx, ds, all)
}

// nodeToDaemonPods groups the DaemonSet's pods by the node they are for. Pods already terminal
// and being deleted are left out unless includeDeletedTerminal (for the history's live hashes).
func (c *Controller) nodeToDaemonPods(ctx context.Context, ds *appsv1.DaemonSet, includeDeletedTerminal bool) (map[string][]*corev1.Pod, error) {
	pods, err := c.daemonPods(ctx, ds)
	if err != nil {
		return nil, err
	}
	out := map[string][]*corev1.Pod{}
	for _, p := range pods {
		if !includeDeletedTerminal && terminal(p) && p.DeletionTimestamp != nil {
			continue
		}
		node, err := targetNode(p)
		if err != nil {
			c.log.Debug("daemon pod without a target node", "pod", p.Namespace+"/"+p.Name, "err", err)
			continue
		}
		out[node] = append(out[node], p)
	}
	return out, nil
}

func terminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// manage works out, node by node, which daemon pods to create and which to delete, and does it.
func (c *Controller) manage(ctx context.Context, key string, ds *appsv1.DaemonSet, nodes []*corev1.Node, hash string) error {
	byNode, err := c.nodeToDaemonPods(ctx, ds, false)
	if err != nil {
		return fmt.Errorf("couldn't get node to daemon pod mapping for daemon set %q: %w", ds.Name, err)
	}
	var create []string
	var remove []*corev1.Pod
	for _, node := range nodes {
		cr, del := c.podsShouldBeOnNode(node, byNode, ds, hash)
		create = append(create, cr...)
		remove = append(remove, del...)
	}
	remove = append(remove, podsWithoutNode(nodes, byNode)...)
	return errors.Join(c.syncNodes(ctx, key, ds, remove, create, hash), c.deletePodsOfGoneNodes(ctx, ds, nodes, byNode))
}

// podsWithoutNode are the unscheduled pods meant for nodes that no longer exist (Kubernetes'
// getUnscheduledPodsWithoutNode): the scheduler can never place them.
func podsWithoutNode(nodes []*corev1.Node, byNode map[string][]*corev1.Pod) []*corev1.Pod {
	exists := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		exists[n.Name] = true
	}
	var out []*corev1.Pod
	for n, pods := range byNode {
		if exists[n] {
			continue
		}
		for _, p := range pods {
			if p.Spec.NodeName == "" && p.DeletionTimestamp == nil {
				out = append(out, p)
			}
		}
	}
	return out
}
