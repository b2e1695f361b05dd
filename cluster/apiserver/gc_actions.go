package apiserver

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/drover-ci/drover/cluster/registry"
)

// ownerState is how a dependent sees one of its owners (Kubernetes' classifyReferences).
type ownerState int

const (
	ownerSolid    ownerState = iota // exists and is not waiting for its dependents
	ownerDangling                   // gone (or replaced by an object with another uid)
	ownerWaiting                    // being deleted in the foreground: waits for its dependents
)

// ownerOf resolves one ownerReference of an object in namespace ns as Kubernetes' isDangling
// does: the index finds the owner by uid; an owner the index does not know (yet) is looked up
// by kind and name in the store, and counts only when its uid matches. An owner of a kind the
// server does not serve is never taken for gone (Kubernetes keeps retrying such a dependent).
func (c *collector) ownerOf(ctx context.Context, ns string, ref metav1.OwnerReference) (ownerState, error) {
	c.mu.Lock()
	key, known := c.uids[ref.UID]
	c.mu.Unlock()
	var res *registry.Resource
	var ons, name string
	if known {
		res = c.resourceOf(key)
	}
	if res != nil {
		ons, name = splitKey(res, key)
	} else {
		res = c.resourceOfKind(ref.APIVersion, ref.Kind)
		if res == nil {
			return ownerSolid, nil
		}
		name = ref.Name
		if res.Namespaced {
			ons = ns
		}
	}
	obj, _, err := c.s.getObject(ctx, res, ons, name)
	if apierrors.IsNotFound(err) {
		return ownerDangling, nil
	}
	if err != nil {
		return ownerSolid, err
	}
	m := accessor(obj)
	switch {
	case m.GetUID() != ref.UID:
		return ownerDangling, nil
	case deletingDependents(m):
		return ownerWaiting, nil
	}
	return ownerSolid, nil
}

// resourceOfKind finds the stored resource of an ownerReference's apiVersion and kind.
func (c *collector) resourceOfKind(apiVersion, kind string) *registry.Resource {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil
	}
	var found *registry.Resource
	for _, r := range c.keys() {
		if r.Group != gv.Group || r.Kind != kind {
			continue
		}
		if found == nil || r.Version == gv.Version {
			found = r
		}
	}
	return found
}

// deletingDependents reports an object in foreground deletion.
func deletingDependents(m metav1.Object) bool {
	return m.GetDeletionTimestamp() != nil && hasFinalizer(m, finalizerForeground)
}

// attemptToDelete is Kubernetes' attemptToDeleteItem for one dependent: with at least one solid
// owner left the object stays and only its references to gone owners and to owners waiting for
// their dependents are removed; with none left it is deleted (in the foreground when an owner
// waits for it and it has dependents of its own, breaking an ownership cycle first).
func (c *collector) attemptToDelete(ctx context.Context, res *registry.Resource, obj runtime.Object) error {
	m := accessor(obj)
	refs := m.GetOwnerReferences()
	if m.GetDeletionTimestamp() != nil || len(refs) == 0 {
		return nil // already on its way out (foreground deletion is the owner path's work)
	}
	var solid, gone, waiting int
	drop := map[types.UID]bool{}
	for _, ref := range refs {
		st, err := c.ownerOf(ctx, m.GetNamespace(), ref)
		if err != nil {
			return err
		}
		switch st {
		case ownerSolid:
			solid++
		case ownerDangling:
			gone++
			drop[ref.UID] = true
		case ownerWaiting:
			waiting++
			drop[ref.UID] = true
		}
	}
	switch {
	case solid > 0:
		if len(drop) == 0 {
			return nil
		}
		return c.setOwners(ctx, res, m.GetNamespace(), m.GetName(), func(rs []metav1.OwnerReference) []metav1.OwnerReference {
			var out []metav1.OwnerReference
			for _, r := range rs {
				if !drop[r.UID] {
					out = append(out, r)
				}
			}
			return out
		})
	case waiting > 0 && len(c.dependentKeys(m.GetUID())) > 0:
		cycle, err := c.hasDependentDeletingDependents(ctx, m.GetUID())
		if err != nil {
			return err
		}
		if cycle {
			// An owner waits for this object, and this object would wait for a dependent that
			// itself waits: make this object's references non-blocking so the owners can go.
			if err := c.setOwners(ctx, res, m.GetNamespace(), m.GetName(), unblockOwnerReferences); err != nil {
				return err
			}
		}
		return c.deleteDependent(ctx, res, m, metav1.DeletePropagationForeground, !cycle)
	}
	policy := metav1.DeletePropagationBackground
	switch {
	case hasFinalizer(m, finalizerOrphan):
		policy = metav1.DeletePropagationOrphan
	case hasFinalizer(m, finalizerForeground):
		policy = metav1.DeletePropagationForeground
	}
	return c.deleteDependent(ctx, res, m, policy, true)
}

func unblockOwnerReferences(rs []metav1.OwnerReference) []metav1.OwnerReference {
	no := false
	out := make([]metav1.OwnerReference, len(rs))
	for i, r := range rs {
		if r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion {
			r.BlockOwnerDeletion = &no
		}
		out[i] = r
	}
	return out
}

// hasDependentDeletingDependents reports whether some dependent of uid is itself in
// foreground deletion.
func (c *collector) hasDependentDeletingDependents(ctx context.Context, uid types.UID) (bool, error) {
	for _, key := range c.dependentKeys(uid) {
		dres := c.resourceOf(key)
		if dres == nil {
			continue
		}
		ns, name := splitKey(dres, key)
		obj, _, err := c.s.getObject(ctx, dres, ns, name)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return false, err
		}
		if deletingDependents(accessor(obj)) {
			return true, nil
		}
	}
	return false, nil
}

// deleteDependent deletes the object the collector classified, on condition that it is still
// that object (uid) and, when sameVersion is set, unchanged since (resourceVersion): an owner
// added in between is seen by the next attempt instead of being ignored.
func (c *collector) deleteDependent(ctx context.Context, res *registry.Resource, m metav1.Object, policy metav1.DeletionPropagation, sameVersion bool) error {
	uid, rv := m.GetUID(), m.GetResourceVersion()
	pre := &metav1.Preconditions{UID: &uid}
	if sameVersion {
		pre.ResourceVersion = &rv
	}
	_, err := c.s.remove(ctx, res, m.GetNamespace(), m.GetName(), &metav1.DeleteOptions{PropagationPolicy: &policy, Preconditions: pre})
	if apierrors.IsConflict(err) {
		return errWaiting // look again at the changed object
	}
	return ignoreNotFound(err)
}

// finalizeOwner carries out foreground or orphan propagation for an owner being deleted.
func (c *collector) finalizeOwner(ctx context.Context, res *registry.Resource, obj runtime.Object) error {
	m := accessor(obj)
	if m.GetDeletionTimestamp() == nil {
		return nil
	}
	uid := m.GetUID()
	deps := c.dependentKeys(uid)
	if hasFinalizer(m, finalizerOrphan) {
		for _, key := range deps {
			dres := c.resourceOf(key)
			if dres == nil {
				continue
			}
			ns, name := splitKey(dres, key)
			err := c.setOwners(ctx, dres, ns, name, func(rs []metav1.OwnerReference) []metav1.OwnerReference {
				var out []metav1.OwnerReference
				for _, r := range rs {
					if r.UID != uid {
						out = append(out, r)
					}
				}
				return out
			})
			if err != nil {
				return err
			}
		}
		return c.dropFinalizer(ctx, res, m, finalizerOrphan)
	}
	if !hasFinalizer(m, finalizerForeground) {
		return nil
	}
	// Kubernetes' processDeletingDependentsItem: the owner waits for the dependents whose
	// reference to it blocks its deletion; each of them is collected by the dependent rules
	// (a dependent with another live owner stays, only losing its reference to this one).
	// Dependents with a non-blocking reference are collected once the owner is gone.
	blocking := 0
	for _, key := range deps {
		dres := c.resourceOf(key)
		if dres == nil {
			continue
		}
		ns, name := splitKey(dres, key)
		dobj, _, err := c.s.getObject(ctx, dres, ns, name)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		dm := accessor(dobj)
		if !blocksOwner(dm, uid) {
			continue
		}
		blocking++
		if deletingDependents(dm) {
			continue // it finishes its own foreground deletion first
		}
		if err := c.attemptToDelete(ctx, dres, dobj); err != nil && err != errWaiting {
			return err
		}
	}
	if blocking > 0 {
		return errWaiting // the owner goes once its blocking dependents are gone
	}
	return c.dropFinalizer(ctx, res, m, finalizerForeground)
}

// blocksOwner reports whether m holds a blockOwnerDeletion reference to the owner uid.
func blocksOwner(m metav1.Object, uid types.UID) bool {
	for _, r := range m.GetOwnerReferences() {
		if r.UID == uid && r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion {
			return true
		}
	}
	return false
}

// finalizeNamespace deletes everything in a Terminating namespace, then the namespace.
func (c *collector) finalizeNamespace(ctx context.Context, ns *corev1.Namespace) error {
	if ns.DeletionTimestamp == nil {
		return nil
	}
	remaining := 0
	bg := metav1.DeletePropagationBackground
	for _, res := range c.s.resources.All() {
		if !res.Namespaced || !res.Stored() || res.Storage != nil { // a view's objects are its stored version's
			continue
		}
		objs, _, err := c.s.listObjects(ctx, res, ns.Name)
		if err != nil {
			return err
		}
		remaining += len(objs)
		for _, obj := range objs {
			m := accessor(obj)
			if m.GetDeletionTimestamp() != nil {
				continue
			}
			if _, err := c.s.remove(ctx, res, ns.Name, m.GetName(), &metav1.DeleteOptions{PropagationPolicy: &bg}); ignoreNotFound(err) != nil {
				return err
			}
		}
	}
	if remaining > 0 {
		return errWaiting
	}
	_, err := c.s.update(ctx, c.s.namespaces, "", ns.Name, "finalize", func(cur runtime.Object) (runtime.Object, error) {
		n := cur.(*corev1.Namespace)
		// Only the server's own finalizer goes; others are for their owners to remove.
		var keep []corev1.FinalizerName
		for _, f := range n.Spec.Finalizers {
			if f != corev1.FinalizerKubernetes {
				keep = append(keep, f)
			}
		}
		n.Spec.Finalizers = keep
		return n, nil
	}, true, false)
	if ignoreNotFound(err) != nil {
		return err
	}
	// With no finalizers left the namespace goes now (update removed it already when it
	// could; this covers a namespace whose finalizers were gone before).
	_, err = c.s.remove(ctx, c.s.namespaces, "", ns.Name, &metav1.DeleteOptions{})
	return ignoreNotFound(err)
}

func (c *collector) setOwners(ctx context.Context, res *registry.Resource, ns, name string, fn func([]metav1.OwnerReference) []metav1.OwnerReference) error {
	_, err := c.s.update(ctx, res, ns, name, "", func(cur runtime.Object) (runtime.Object, error) {
		m := accessor(cur)
		m.SetOwnerReferences(fn(m.GetOwnerReferences()))
		return cur, nil
	}, true, false)
	return ignoreNotFound(err)
}

func (c *collector) dropFinalizer(ctx context.Context, res *registry.Resource, m metav1.Object, f string) error {
	_, err := c.s.update(ctx, res, m.GetNamespace(), m.GetName(), "", func(cur runtime.Object) (runtime.Object, error) {
		removeFinalizer(accessor(cur), f)
		return cur, nil
	}, true, false)
	return ignoreNotFound(err)
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
