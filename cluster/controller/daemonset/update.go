package daemonset

import (
	"context"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// surgeCount is maxSurge scaled to desired pods, rounded up (0 unless RollingUpdate asks).
func surgeCount(ds *appsv1.DaemonSet, desired int) (int, error) {
	r := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || r == nil || r.MaxSurge == nil {
		return 0, nil
	}
	return intstr.GetScaledValueFromIntOrPercent(r.MaxSurge, desired, true)
}

// unavailableCount is maxUnavailable scaled to desired pods, rounded up.
func unavailableCount(ds *appsv1.DaemonSet, desired int) (int, error) {
	r := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || r == nil || r.MaxUnavailable == nil {
		return 0, nil
	}
	return intstr.GetScaledValueFromIntOrPercent(r.MaxUnavailable, desired, true)
}

func allowsSurge(ds *appsv1.DaemonSet) bool {
	n, err := surgeCount(ds, 1)
	return err == nil && n > 0
}

// podUpdated: the pod carries the current revision's hash (or the deprecated template
// generation of the DaemonSet).
func podUpdated(ds *appsv1.DaemonSet, pod *corev1.Pod, hash string) bool {
	if g, ok := templateGeneration(ds); ok && pod.Labels[templateGenerationLabel] == strconv.FormatInt(g, 10) {
		return true
	}
	return hash != "" && pod.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == hash
}

// updatedPodsOnNode returns the node's one new and one old live pod; ok is false when there are
// more of either (the manage loop prunes them first).
func updatedPodsOnNode(ds *appsv1.DaemonSet, pods []*corev1.Pod, hash string) (newPod, oldPod *corev1.Pod, ok bool) {
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		if podUpdated(ds, p, hash) {
			if newPod != nil {
				return nil, nil, false
			}
			newPod = p
		} else {
			if oldPod != nil {
				return nil, nil, false
			}
			oldPod = p
		}
	}
	return newPod, oldPod, true
}

// desiredCounts works out maxSurge, maxUnavailable and the desired number of scheduled pods,
// and adds an empty entry to byNode for every node that should run a pod but has none.
func desiredCounts(ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod) (maxSurge, maxUnavailable, desired int, err error) {
	for _, n := range nodes {
		if run, _ := shouldRun(n, ds); !run {
			continue
		}
		desired++
		if _, ok := byNode[n.Name]; !ok {
			byNode[n.Name] = nil
		}
	}
	if maxUnavailable, err = unavailableCount(ds, desired); err != nil {
		return 0, 0, 0, fmt.Errorf("invalid value for MaxUnavailable: %w", err)
	}
	if maxSurge, err = surgeCount(ds, desired); err != nil {
		return 0, 0, 0, fmt.Errorf("invalid value for MaxSurge: %w", err)
	}
	// An impossible configuration (both 0) falls back to one unavailable pod, as Kubernetes.
	if desired > 0 && maxUnavailable == 0 && maxSurge == 0 {
		maxUnavailable = 1
	}
	return maxSurge, maxUnavailable, desired, nil
}

// rollingUpdate replaces old pods within the strategy's limits (Kubernetes' rollingUpdate):
// without surge it deletes old pods while no more than maxUnavailable are unavailable and lets
// the manage loop create their replacements; with surge it creates new pods next to old ones
// (at most maxSurge at a time) and deletes each old pod once its replacement is available.
func (c *Controller) rollingUpdate(ctx context.Context, key string, ds *appsv1.DaemonSet, nodes []*corev1.Node, hash string) error {
	byNode, err := c.nodeToDaemonPods(ctx, ds, false)
	if err != nil {
		return fmt.Errorf("couldn't get node to daemon pod mapping for daemon set %q: %w", ds.Name, err)
	}
	maxSurge, maxUnavailable, desired, err := desiredCounts(ds, nodes, byNode)
	if err != nil {
		return fmt.Errorf("couldn't get unavailable numbers: %w", err)
	}
	if maxSurge == 0 {
		return c.syncNodes(ctx, key, ds, c.replaceWithoutSurge(ds, byNode, hash, maxUnavailable), nil, hash)
	}
	remove, create := c.replaceWithSurge(ds, nodes, byNode, hash, maxSurge, desired)
	return c.syncNodes(ctx, key, ds, remove, create, hash)
}

func (c *Controller) replaceWithoutSurge(ds *appsv1.DaemonSet, byNode map[string][]*corev1.Pod, hash string, maxUnavailable int) []*corev1.Pod {
	now := c.clock.Now()
	unavailable := 0
	var replacements, candidates []*corev1.Pod
	for _, pods := range byNode {
		newPod, oldPod, ok := updatedPodsOnNode(ds, pods, hash)
		switch {
		case !ok, oldPod == nil && newPod == nil, oldPod != nil && newPod != nil:
			unavailable++ // the manage loop creates or prunes here
		case newPod != nil:
			if !podAvailable(newPod, ds.Spec.MinReadySeconds, now) {
				unavailable++
			}
		case !podAvailable(oldPod, ds.Spec.MinReadySeconds, now):
			replacements = append(replacements, oldPod) // already unavailable: replace it
			unavailable++
		case unavailable < maxUnavailable:
			candidates = append(candidates, oldPod)
		}
	}
	room := min(max(maxUnavailable-unavailable, 0), len(candidates))
	return append(replacements, candidates[:room]...)
}

func (c *Controller) replaceWithSurge(ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string, maxSurge, desired int) (remove []*corev1.Pod, create []string) {
	now := c.clock.Now()
	nodeByName := make(map[string]*corev1.Node, len(nodes))
	for _, n := range nodes {
		nodeByName[n.Name] = n
	}
	runs := func(name string) bool {
		n := nodeByName[name]
		if n == nil {
			return false
		}
		run, _ := shouldRun(n, ds)
		return run
	}
	var shouldNotRun []*corev1.Pod
	var allowed, candidates []string
	surge, available := 0, 0
	for name, pods := range byNode {
		newPod, oldPod, ok := updatedPodsOnNode(ds, pods, hash)
		if !ok {
			surge++
			continue
		}
		switch {
		case oldPod != nil && podAvailable(oldPod, ds.Spec.MinReadySeconds, now):
			available++
		case oldPod == nil && newPod != nil && podAvailable(newPod, ds.Spec.MinReadySeconds, now):
			available++
		}
		switch {
		case oldPod == nil:
		case newPod == nil:
			switch {
			case !podAvailable(oldPod, ds.Spec.MinReadySeconds, now):
				if !runs(name) {
					remove = append(remove, oldPod)
					continue
				}
				allowed = append(allowed, name)
			case !runs(name):
				shouldNotRun = append(shouldNotRun, oldPod)
			case surge < maxSurge:
				candidates = append(candidates, name)
			}
		case !podAvailable(newPod, ds.Spec.MinReadySeconds, now):
			surge++
		default:
			remove = append(remove, oldPod)
		}
	}
	// With surge the owner expects full availability: a pod on a node it should leave goes only
	// once enough pods elsewhere are available.
	if n := min(available-desired, len(shouldNotRun)); n > 0 {
		remove = append(remove, shouldNotRun[:n]...)
	}
	room := min(max(maxSurge-surge, 0), len(candidates))
	return remove, append(allowed, candidates[:room]...)
}
