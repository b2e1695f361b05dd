package statefulset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// claimPods adopts the orphaned pods set selects whose names make them its members, releases
// the pods it owns that it no longer selects or that are not its members, and returns the
// pods it owns (Kubernetes' ControllerRefManager.ClaimPods with the isMemberOf filter).
func (c *Controller) claimPods(ctx context.Context, set *appsv1.StatefulSet, sel labels.Selector, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	var owned []*corev1.Pod
	var errs []error
	canAdopt := -1 // -1 not asked yet, 0 no, 1 yes
	for _, pod := range pods {
		match := sel.Matches(labels.Set(pod.Labels)) && isMemberOf(set, pod)
		ref := metav1.GetControllerOf(pod)
		switch {
		case ref != nil && ref.UID != set.UID:
			continue
		case ref != nil && match:
			owned = append(owned, pod)
		case ref != nil:
			if set.DeletionTimestamp == nil {
				errs = append(errs, c.release(ctx, set, pod))
			}
		case set.DeletionTimestamp != nil || pod.DeletionTimestamp != nil || !match:
			continue
		default:
			if canAdopt < 0 {
				canAdopt = 0
				if c.canAdopt(ctx, set) {
					canAdopt = 1
				}
			}
			if canAdopt == 0 {
				continue
			}
			adopted, err := c.adopt(ctx, set, pod)
			errs = append(errs, err)
			if adopted != nil {
				owned = append(owned, adopted)
			}
		}
	}
	return owned, errors.Join(errs...)
}

// canAdopt asks the API server (not the cache) whether set still exists as the same object
// and is not being deleted.
func (c *Controller) canAdopt(ctx context.Context, set *appsv1.StatefulSet) bool {
	fresh, err := c.client.AppsV1().StatefulSets(set.Namespace).Get(ctx, set.Name, metav1.GetOptions{})
	return err == nil && fresh.UID == set.UID && fresh.DeletionTimestamp == nil
}

// ownerPatch is the strategic merge patch making set the controller of the object with uid.
func ownerPatch(set *appsv1.StatefulSet, uid types.UID) ([]byte, error) {
	return json.Marshal(map[string]interface{}{"metadata": map[string]interface{}{
		"uid": uid,
		"ownerReferences": []map[string]interface{}{{
			"apiVersion": controllerKind.GroupVersion().String(), "kind": controllerKind.Kind,
			"name": set.Name, "uid": set.UID, "controller": true, "blockOwnerDeletion": true,
		}},
	}})
}

func (c *Controller) adopt(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) (*corev1.Pod, error) {
	patch, err := ownerPatch(set, pod.UID)
	if err != nil {
		return nil, err
	}
	out, err := c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("adopt pod %s: %w", pod.Name, err)
	}
	return out, nil
}

func (c *Controller) release(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	patch, err := json.Marshal(map[string]interface{}{"metadata": map[string]interface{}{
		"uid":             pod.UID,
		"ownerReferences": []map[string]interface{}{{"$patch": "delete", "uid": set.UID}},
	}})
	if err != nil {
		return err
	}
	_, err = c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("release pod %s: %w", pod.Name, err)
	}
	return nil
}
