package apiserver

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/drover-ci/drover/cluster/registry"
)

// orphanedDependent deletes obj when none of its owners exists any more, and drops the
// references to vanished owners when some remain.
func (c *collector) orphanedDependent(ctx context.Context, res *registry.Resource, obj runtime.Object) error {
	m := accessor(obj)
	refs := m.GetOwnerReferences()
	if len(refs) == 0 {
		return nil
	}
	var live []metav1.OwnerReference
	for _, ref := range refs {
		if c.alive(ref.UID) {
			live = append(live, ref)
		}
	}
	switch {
	case len(live) == len(refs):
		return nil
	case len(live) == 0:
		bg := metav1.DeletePropagationBackground
		_, err := c.s.remove(ctx, res, m.GetNamespace(), m.GetName(), &metav1.DeleteOptions{PropagationPolicy: &bg})
		return ignoreNotFound(err)
	}
	return c.setOwners(ctx, res, m.GetNamespace(), m.GetName(), func(rs []metav1.OwnerReference) []metav1.OwnerReference {
		var out []metav1.OwnerReference
		for _, r := range rs {
			if c.alive(r.UID) {
				out = append(out, r)
			}
		}
		return out
	})
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
	if hasFinalizer(m, finalizerForeground) {
		if len(deps) > 0 {
			fg := metav1.DeletePropagationForeground
			for _, key := range deps {
				dres := c.resourceOf(key)
				if dres == nil {
					continue
				}
				ns, name := splitKey(dres, key)
				if _, err := c.s.remove(ctx, dres, ns, name, &metav1.DeleteOptions{PropagationPolicy: &fg}); ignoreNotFound(err) != nil {
					return err
				}
			}
			return errWaiting // the owner goes once its dependents are gone
		}
		return c.dropFinalizer(ctx, res, m, finalizerForeground)
	}
	return nil
}

// finalizeNamespace deletes everything in a Terminating namespace, then the namespace.
func (c *collector) finalizeNamespace(ctx context.Context, ns *corev1.Namespace) error {
	if ns.DeletionTimestamp == nil {
		return nil
	}
	remaining := 0
	bg := metav1.DeletePropagationBackground
	for _, res := range c.s.resources.All() {
		if !res.Namespaced || !res.Stored() {
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
