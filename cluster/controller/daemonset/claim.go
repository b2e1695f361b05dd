package daemonset

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

// claimer adopts orphans a DaemonSet selects and releases what it owns but no longer selects
// (Kubernetes' ControllerRefManager), for pods and ControllerRevisions alike.
type claimer struct {
	c   *Controller
	ds  *appsv1.DaemonSet
	sel labels.Selector
	// canAdopt is asked once, when the first orphan needs it: -1 unknown, 0 no, 1 yes.
	canAdopt int
}

func (c *Controller) newClaimer(ds *appsv1.DaemonSet) (*claimer, error) {
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("selector of daemon set %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	return &claimer{c: c, ds: ds, sel: sel, canAdopt: -1}, nil
}

// patchFunc patches the owner references of one object (a pod or a revision).
type patchFunc func(ctx context.Context, name string, data []byte) error

// claim decides for one object: owned says it is (now) the DaemonSet's.
func (m *claimer) claim(ctx context.Context, obj metav1.Object, patch patchFunc) (owned bool, err error) {
	ref := metav1.GetControllerOf(obj)
	matches := m.sel.Matches(labels.Set(obj.GetLabels()))
	switch {
	case ref != nil && ref.UID != m.ds.UID:
		return false, nil
	case ref != nil && matches:
		return true, nil
	case ref != nil:
		if m.ds.DeletionTimestamp != nil {
			return false, nil
		}
		return false, m.release(ctx, obj, patch)
	case m.ds.DeletionTimestamp != nil || obj.GetDeletionTimestamp() != nil || !matches:
		return false, nil
	}
	if m.canAdopt < 0 {
		m.canAdopt = m.checkCanAdopt(ctx)
	}
	if m.canAdopt == 0 {
		return false, nil
	}
	if err := m.adopt(ctx, obj, patch); err != nil {
		return false, err
	}
	return true, nil
}

// checkCanAdopt asks the API server (not the cache) whether the DaemonSet still exists, is the
// same object and is not being deleted, before it takes new objects: 1 yes, 0 no.
func (m *claimer) checkCanAdopt(ctx context.Context) int {
	fresh, err := m.c.client.AppsV1().DaemonSets(m.ds.Namespace).Get(ctx, m.ds.Name, metav1.GetOptions{})
	if err != nil || fresh.UID != m.ds.UID || fresh.DeletionTimestamp != nil {
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

func (m *claimer) adopt(ctx context.Context, obj metav1.Object, patch patchFunc) error {
	var p refPatch
	p.Metadata.UID = obj.GetUID()
	p.Metadata.OwnerReferences = []map[string]interface{}{{
		"apiVersion": dsKind.GroupVersion().String(), "kind": dsKind.Kind, "name": m.ds.Name, "uid": m.ds.UID,
		"controller": true, "blockOwnerDeletion": true,
	}}
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if err := patch(ctx, obj.GetName(), data); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("adopt %s: %w", obj.GetName(), err)
	}
	return nil
}

func (m *claimer) release(ctx context.Context, obj metav1.Object, patch patchFunc) error {
	var p refPatch
	p.Metadata.UID = obj.GetUID()
	p.Metadata.OwnerReferences = []map[string]interface{}{{"$patch": "delete", "uid": m.ds.UID}}
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	err = patch(ctx, obj.GetName(), data)
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsInvalid(err) {
		return fmt.Errorf("release %s: %w", obj.GetName(), err)
	}
	return nil
}

// claimPods returns the DaemonSet's pods among pods, adopting and releasing as needed.
func (c *Controller) claimPods(ctx context.Context, ds *appsv1.DaemonSet, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	m, err := c.newClaimer(ds)
	if err != nil {
		return nil, err
	}
	podClient := c.client.CoreV1().Pods(ds.Namespace)
	patch := func(ctx context.Context, name string, data []byte) error {
		_, err := podClient.Patch(ctx, name, types.StrategicMergePatchType, data, metav1.PatchOptions{})
		return err
	}
	var owned []*corev1.Pod
	var errs []error
	for _, pod := range pods {
		ok, err := m.claim(ctx, pod, patch)
		errs = append(errs, err)
		if ok && err == nil {
			owned = append(owned, pod)
		}
	}
	return owned, errors.Join(errs...)
}

// claimRevisions returns the DaemonSet's ControllerRevisions, adopting and releasing as needed.
func (c *Controller) claimRevisions(ctx context.Context, ds *appsv1.DaemonSet) ([]*appsv1.ControllerRevision, error) {
	m, err := c.newClaimer(ds)
	if err != nil {
		return nil, err
	}
	all, err := c.revisions.ControllerRevisions(ds.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	crClient := c.client.AppsV1().ControllerRevisions(ds.Namespace)
	patch := func(ctx context.Context, name string, data []byte) error {
		_, err := crClient.Patch(ctx, name, types.StrategicMergePatchType, data, metav1.PatchOptions{})
		return err
	}
	var owned []*appsv1.ControllerRevision
	var errs []error
	for _, cr := range all {
		ok, err := m.claim(ctx, cr, patch)
		errs = append(errs, err)
		if ok && err == nil {
			owned = append(owned, cr)
		}
	}
	return owned, errors.Join(errs...)
}
