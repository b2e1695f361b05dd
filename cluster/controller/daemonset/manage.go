package daemonset

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cluster/controller"
)

// podsShouldBeOnNode is Kubernetes' podsShouldBeOnNode: whether node needs a daemon pod
// created (create holds its name) and which of its daemon pods must go (failed or succeeded
// ones, surplus ones, or all of them when the node may no longer run the DaemonSet).
func (c *Controller) podsShouldBeOnNode(node *corev1.Node, byNode map[string][]*corev1.Pod, ds *appsv1.DaemonSet, hash string) (create []string, remove []*corev1.Pod) {
	run, cont := shouldRun(node, ds)
	pods, exists := byNode[node.Name]
	switch {
	case run && !exists:
		return []string{node.Name}, nil
	case cont:
		var running []*corev1.Pod
		for _, p := range pods {
			if p.DeletionTimestamp != nil {
				continue
			}
			switch p.Status.Phase {
			case corev1.PodFailed:
				bk := fmt.Sprintf("%s/%d/%s", ds.UID, ds.Status.ObservedGeneration, node.Name)
				now := c.clock.Now()
				if c.failedBackoff.IsInBackOffSinceUpdate(bk, now) {
					c.enqueueAfter(ds, c.failedBackoff.Get(bk))
					continue
				}
				c.failedBackoff.Next(bk, now)
				c.recorder.Eventf(ds, corev1.EventTypeWarning, FailedDaemonPodReason, "Found failed daemon pod %s/%s on node %s, will try to kill it", p.Namespace, p.Name, node.Name)
				remove = append(remove, p)
			case corev1.PodSucceeded:
				c.recorder.Eventf(ds, corev1.EventTypeNormal, SucceededDaemonPodReason, "Found succeeded daemon pod %s/%s on node %s, will try to delete it", p.Namespace, p.Name, node.Name)
				remove = append(remove, p)
			default:
				running = append(running, p)
			}
		}
		if !allowsSurge(ds) {
			if len(running) > 1 {
				sort.Sort(byCreation(running))
				remove = append(remove, running[1:]...)
			}
			return nil, remove
		}
		if len(running) <= 1 {
			if len(running) == 0 && run {
				create = []string{node.Name}
			}
			return create, remove
		}
		// Surging: an old and a new pod may share the node until the new one is available
		// (or the old one is not ready); anything beyond the oldest of each goes.
		var oldestNew, oldestOld *corev1.Pod
		sort.Sort(byCreation(running))
		for _, p := range running {
			isNew := p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == hash
			switch {
			case isNew && oldestNew == nil:
				oldestNew = p
			case !isNew && oldestOld == nil:
				oldestOld = p
			default:
				remove = append(remove, p)
			}
		}
		if oldestNew != nil && oldestOld != nil &&
			(!podReady(oldestOld) || podAvailable(oldestNew, ds.Spec.MinReadySeconds, c.clock.Now())) {
			remove = append(remove, oldestOld)
		}
		return nil, remove
	case exists:
		for _, p := range pods {
			if p.DeletionTimestamp == nil {
				remove = append(remove, p)
			}
		}
	}
	return nil, remove
}

// byCreation orders daemon pods scheduled first, then oldest first, then by name.
type byCreation []*corev1.Pod

func (o byCreation) Len() int      { return len(o) }
func (o byCreation) Swap(i, j int) { o[i], o[j] = o[j], o[i] }
func (o byCreation) Less(i, j int) bool {
	if (o[i].Spec.NodeName == "") != (o[j].Spec.NodeName == "") {
		return o[i].Spec.NodeName != ""
	}
	if o[i].CreationTimestamp.Equal(&o[j].CreationTimestamp) {
		return o[i].Name < o[j].Name
	}
	return o[i].CreationTimestamp.Before(&o[j].CreationTimestamp)
}

// syncNodes deletes the pods in remove and creates a daemon pod for each node in create, at
// most BurstReplicas of each, expectations recorded first (Kubernetes' syncNodes).
func (c *Controller) syncNodes(ctx context.Context, key string, ds *appsv1.DaemonSet, remove []*corev1.Pod, create []string, hash string) error {
	create = create[:min(len(create), BurstReplicas)]
	remove = remove[:min(len(remove), BurstReplicas)]
	if len(create) == 0 && len(remove) == 0 {
		return nil
	}
	keys := make([]string, len(remove))
	for i, p := range remove {
		keys[i] = controller.PodKey(p)
	}
	c.exp.Expect(key, len(create), keys)
	template := podTemplate(ds, hash)
	created, createErr := slowStartBatch(len(create), func(i int) error {
		return c.createPod(ctx, ds, template, create[i])
	})
	for i := created; i < len(create); i++ {
		c.exp.CreationObserved(key) // failed or never tried: no informer event will come
	}
	var deleteErr error
	if len(remove) > 0 {
		deleteErr = controller.DeletePods(ctx, c.client, c.exp, c.recorder, key, ds, remove)
	}
	return errors.Join(createErr, deleteErr)
}

// podTemplate is the template daemon pods are made from (Kubernetes' CreatePodTemplate): the
// DaemonSet's, with the daemon tolerations, the revision hash label and the template
// generation label.
func podTemplate(ds *appsv1.DaemonSet, hash string) *corev1.PodTemplateSpec {
	t := ds.Spec.Template.DeepCopy()
	addDaemonTolerations(&t.Spec)
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	if g, ok := templateGeneration(ds); ok {
		t.Labels[templateGenerationLabel] = strconv.FormatInt(g, 10)
	}
	if hash != "" {
		t.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] = hash
	}
	return t
}

// templateGenerationLabel is the pod label carrying the DaemonSet's template generation
// (Kubernetes' extensions DaemonSetTemplateGenerationKey).
const templateGenerationLabel = "pod-template-generation"

// templateGeneration is the DaemonSet's deprecated.daemonset.template.generation annotation,
// which the API server sets to 1 on create and raises with every template change.
func templateGeneration(ds *appsv1.DaemonSet) (int64, bool) {
	v, ok := ds.Annotations[appsv1.DeprecatedTemplateGeneration]
	if !ok {
		return 0, false
	}
	g, err := strconv.ParseInt(v, 10, 64)
	return g, err == nil
}

// createPod creates the daemon pod for node: the template with a required node affinity on
// the node's name, which drover's scheduler honours when it binds the pod.
func (c *Controller) createPod(ctx context.Context, ds *appsv1.DaemonSet, template *corev1.PodTemplateSpec, node string) error {
	t := template.DeepCopy()
	t.Spec.Affinity = nodeAffinityFor(t.Spec.Affinity, node)
	pod := controller.PodFromTemplate(t, ds, dsKind)
	created, err := c.client.CoreV1().Pods(ds.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil // the namespace goes, and every pod with it
		}
		c.recorder.Eventf(ds, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		return fmt.Errorf("create daemon pod for node %s: %w", node, err)
	}
	c.recorder.Eventf(ds, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", created.Name)
	return nil
}

// slowStartBatch calls fn(0..count-1) in parallel batches of 1, 2, 4, ... and stops after a
// batch with a failure; it returns how many calls were made and succeeded before stopping.
func slowStartBatch(count int, fn func(i int) error) (int, error) {
	done := 0
	for batch := min(count, 1); batch > 0; batch = min(2*batch, count-done) {
		errs := make([]error, batch)
		var wg sync.WaitGroup
		for i := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = fn(done + i)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			ok := 0
			for _, e := range errs {
				if e == nil {
					ok++
				}
			}
			return done + ok, err
		}
		done += batch
	}
	return done, nil
}

// deletePodsOfGoneNodes force-deletes the daemon pods bound to nodes that no longer exist.
// Kubernetes leaves this to its pod garbage collector, which drover does not have: without it a
// node removed from the cluster would keep its daemon pod, Terminating forever since no node
// agent finishes the deletion. The node's absence is confirmed with the API server first.
func (c *Controller) deletePodsOfGoneNodes(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod) error {
	exists := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		exists[n.Name] = true
	}
	var errs []error
	zero := int64(0)
	for name, pods := range byNode {
		if exists[name] {
			continue
		}
		var bound []*corev1.Pod
		for _, p := range pods {
			if p.Spec.NodeName == name {
				bound = append(bound, p)
			}
		}
		if len(bound) == 0 {
			continue
		}
		if _, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			continue // the cache lags, or the API cannot tell: the next sync looks again
		}
		for _, p := range bound {
			err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
				GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &p.UID}})
			switch {
			case err == nil:
				c.recorder.Eventf(ds, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s (node %s is gone)", p.Name, name)
			case !apierrors.IsNotFound(err) && !apierrors.IsConflict(err):
				errs = append(errs, fmt.Errorf("delete pod %s of gone node %s: %w", p.Name, name, err))
			}
		}
	}
	return errors.Join(errs...)
}
