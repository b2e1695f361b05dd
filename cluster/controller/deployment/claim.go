package deployment

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

// claimReplicaSets adopts the orphan ReplicaSets the Deployment selects and releases those it
// owns but no longer selects (Kubernetes' ControllerRefManager.ClaimReplicaSets); it returns
// the ReplicaSets it owns.
func (c *Controller) claimReplicaSets(ctx context.Context, d *appsv1.Deployment) ([]*appsv1.ReplicaSet, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment %s/%s has invalid label selector: %w", d.Namespace, d.Name, err)
	}
	all, err := c.rss.ReplicaSets(d.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var owned []*appsv1.ReplicaSet
	var errs []error
	canAdopt := -1 // -1 unknown until an orphan needs it, 0 no, 1 yes
	for _, rs := range all {
		ref := metav1.GetControllerOf(rs)
		matches := sel.Matches(labels.Set(rs.Labels))
		switch {
		case ref != nil && ref.UID != d.UID:
			continue
		case ref != nil && matches:
			owned = append(owned, rs)
		case ref != nil:
			if d.DeletionTimestamp == nil {
				errs = append(errs, c.releaseRS(ctx, d, rs))
			}
		case d.DeletionTimestamp != nil || rs.DeletionTimestamp != nil || !matches:
			continue
		default:
			if canAdopt < 0 {
				canAdopt = c.checkCanAdopt(ctx, d)
			}
			if canAdopt == 0 {
				continue
			}
			adopted, err := c.adoptRS(ctx, d, rs)
			errs = append(errs, err)
			if adopted != nil {
				owned = append(owned, adopted)
			}
		}
	}
	return owned, errors.Join(errs...)
}

// checkCanAdopt asks the API server (not the cache) whether d still exists, is the same object
// and is not being deleted: 1 yes, 0 no.
func (c *Controller) checkCanAdopt(ctx context.Context, d *appsv1.Deployment) int {
	fresh, err := c.client.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
	if err != nil || fresh.UID != d.UID || fresh.DeletionTimestamp != nil {
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

func (c *Controller) adoptRS(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
	var p refPatch
	p.Metadata.UID = rs.UID
	p.Metadata.OwnerReferences = []map[string]interface{}{{
		"apiVersion": deploymentKind.GroupVersion().String(), "kind": deploymentKind.Kind, "name": d.Name, "uid": d.UID,
		"controller": true, "blockOwnerDeletion": true,
	}}
	out, err := c.patchRS(ctx, rs, p)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("adopt replicaset %s: %w", rs.Name, err)
	}
	return out, nil
}

func (c *Controller) releaseRS(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet) error {
	var p refPatch
	p.Metadata.UID = rs.UID
	p.Metadata.OwnerReferences = []map[string]interface{}{{"$patch": "delete", "uid": d.UID}}
	_, err := c.patchRS(ctx, rs, p)
	if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("release replicaset %s: %w", rs.Name, err)
	}
	return nil
}

func (c *Controller) patchRS(ctx context.Context, rs *appsv1.ReplicaSet, p refPatch) (*appsv1.ReplicaSet, error) {
	data, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return c.client.AppsV1().ReplicaSets(rs.Namespace).Patch(ctx, rs.Name, types.StrategicMergePatchType, data, metav1.PatchOptions{})
}

// podsByReplicaSet groups the pods the Deployment selects by the ReplicaSet of rss that
// controls them (what a Recreate rollout waits on).
func (c *Controller) podsByReplicaSet(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) (map[types.UID][]*corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, err
	}
	pods, err := c.pods.Pods(d.Namespace).List(sel)
	if err != nil {
		return nil, err
	}
	out := make(map[types.UID][]*corev1.Pod, len(rss))
	for _, rs := range rss {
		out[rs.UID] = nil
	}
	for _, p := range pods {
		ref := metav1.GetControllerOf(p)
		if ref == nil {
			continue
		}
		if _, ok := out[ref.UID]; ok {
			out[ref.UID] = append(out[ref.UID], p)
		}
	}
	return out, nil
}
