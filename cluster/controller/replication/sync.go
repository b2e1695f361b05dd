package replication

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// sync brings one controller's pods and status in line with its spec.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	rc, err := c.kind.get(ns, name)
	if apierrors.IsNotFound(err) {
		c.exp.Forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	needsSync := c.exp.Satisfied(key) && rc.DeletionTimestamp == nil
	all, err := c.pods.Pods(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	pods, err := c.claimPods(ctx, rc, activePods(all))
	if err != nil {
		return err
	}
	var manageErr error
	if needsSync {
		manageErr = c.manageReplicas(ctx, key, rc, pods)
	}
	st := calculateStatus(rc, pods, manageErr, c.clock.Now())
	updated, err := c.updateStatus(ctx, rc, st)
	if err != nil {
		return errors.Join(manageErr, err)
	}
	if manageErr == nil && updated.Spec.MinReadySeconds > 0 && updated.Status.ReadyReplicas == replicasOf(updated) &&
		updated.Status.AvailableReplicas != replicasOf(updated) {
		c.enqueueAfter(updated, time.Duration(updated.Spec.MinReadySeconds)*time.Second)
	}
	return manageErr
}

// claimPods adopts the orphans the controller selects and releases the pods it owns but no
// longer selects (Kubernetes' ControllerRefManager.ClaimPods); it returns the pods it owns.
func (c *Controller) claimPods(ctx context.Context, rc *appsv1.ReplicaSet, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(rc.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("selector of %s/%s: %w", rc.Namespace, rc.Name, err)
	}
	var owned []*corev1.Pod
	var errs []error
	canAdopt := -1 // unknown until an orphan needs it: -1 unknown, 0 no, 1 yes
	for _, pod := range pods {
		ref := metav1.GetControllerOf(pod)
		switch {
		case ref != nil && ref.UID != rc.UID:
			continue // another controller's pod
		case ref != nil && sel.Matches(labels.Set(pod.Labels)):
			owned = append(owned, pod)
		case ref != nil:
			if rc.DeletionTimestamp == nil {
				errs = append(errs, c.release(ctx, rc, pod))
			}
		case rc.DeletionTimestamp != nil || pod.DeletionTimestamp != nil || !sel.Matches(labels.Set(pod.Labels)):
			continue
		default:
			if canAdopt < 0 {
				canAdopt = c.checkCanAdopt(ctx, rc)
			}
			if canAdopt == 0 {
				continue
			}
			adopted, err := c.adopt(ctx, rc, pod)
			errs = append(errs, err)
			if adopted != nil {
				owned = append(owned, adopted)
			}
		}
	}
	return owned, errors.Join(errs...)
}

// checkCanAdopt asks the API server (not the cache) whether rc still exists, is the same
// object and is not being deleted, before it takes new pods: 1 yes, 0 no.
func (c *Controller) checkCanAdopt(ctx context.Context, rc *appsv1.ReplicaSet) int {
	fresh, err := c.kind.fresh(ctx, rc.Namespace, rc.Name)
	if err != nil || fresh.UID != rc.UID || fresh.DeletionTimestamp != nil {
		return 0
	}
	return 1
}

type refPatch struct {
	Metadata struct {
		OwnerReferences []map[string]interface{} `json:"ownerReferences"`
		UID             types.UID                `json:"uid"`
	} `json:"metadata"`
}

func (c *Controller) adopt(ctx context.Context, rc *appsv1.ReplicaSet, pod *corev1.Pod) (*corev1.Pod, error) {
	var p refPatch
	p.Metadata.UID = pod.UID
	p.Metadata.OwnerReferences = []map[string]interface{}{{
		"apiVersion": c.kind.gvk().GroupVersion().String(), "kind": c.kind.gvk().Kind, "name": rc.Name, "uid": rc.UID,
		"controller": true, "blockOwnerDeletion": true,
	}}
	out, err := c.patchPod(ctx, pod, p)
	if apierrors.IsNotFound(err) {
		return nil, nil // gone meanwhile
	}
	if err != nil {
		return nil, fmt.Errorf("adopt pod %s: %w", pod.Name, err)
	}
	return out, nil
}

func (c *Controller) release(ctx context.Context, rc *appsv1.ReplicaSet, pod *corev1.Pod) error {
	var p refPatch
	p.Metadata.UID = pod.UID
	p.Metadata.OwnerReferences = []map[string]interface{}{{"$patch": "delete", "uid": rc.UID}}
	_, err := c.patchPod(ctx, pod, p)
	if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
		return nil // gone, or changed so that the patch no longer applies
	}
	if err != nil {
		return fmt.Errorf("release pod %s: %w", pod.Name, err)
	}
	return nil
}

func (c *Controller) patchPod(ctx context.Context, pod *corev1.Pod, p refPatch) (*corev1.Pod, error) {
	data, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, data, metav1.PatchOptions{})
}

// activePods keeps the pods that are neither terminal nor being deleted.
func activePods(pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			out = append(out, p)
		}
	}
	return out
}

func replicasOf(rc *appsv1.ReplicaSet) int32 {
	if rc.Spec.Replicas == nil {
		return 1
	}
	return *rc.Spec.Replicas
}
