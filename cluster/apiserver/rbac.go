package apiserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	genericrequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/component-helpers/auth/rbac/reconciliation"

	"github.com/drover-ci/drover/cluster/rbac"
	"github.com/drover-ci/drover/cluster/registry"
	"github.com/drover-ci/drover/cluster/store"
)

// rbacPrefix is the store prefix of every rbac.authorization.k8s.io object.
const rbacPrefix = registry.RBACGroup + "/"

func (s *Server) rbacResource(resource string) *registry.Resource {
	res, _ := s.resources.Lookup(schema.GroupVersionResource{Group: registry.RBACGroup, Version: "v1", Resource: resource})
	return res
}

// rbacObject decodes a stored rbac.authorization.k8s.io value by its key
// (GROUP/RESOURCE/[NAMESPACE/]NAME).
func (s *Server) rbacObject(key string, value []byte, rev int64) (runtime.Object, error) {
	parts := strings.Split(strings.TrimPrefix(key, rbacPrefix), "/")
	res := s.rbacResource(parts[0])
	if res == nil {
		return nil, fmt.Errorf("unknown rbac key %q", key)
	}
	return decodeObject(res, value, rev)
}

// loadRBAC reads every RBAC object into the index and returns the revision read at.
func (s *Server) loadRBAC(ctx context.Context) (int64, error) {
	kvs, rev, err := s.store.List(ctx, rbacPrefix)
	if err != nil {
		return 0, fmt.Errorf("list RBAC objects: %w", err)
	}
	objs := make([]interface{}, 0, len(kvs))
	for _, kv := range kvs {
		obj, err := s.rbacObject(kv.Key, kv.Value, kv.Revision)
		if err != nil {
			s.log.Warn("skipping an RBAC object that does not decode", "key", kv.Key, "err", err)
			continue
		}
		objs = append(objs, obj)
	}
	s.rbacIndex.Replace(objs)
	return rev, nil
}

// followRBAC keeps the index current from a store watch until ctx ends, listing again when
// the watch fails or falls behind the store's history.
func (s *Server) followRBAC(ctx context.Context, rev int64) {
	s.followPrefix(ctx, "RBAC", rbacPrefix, rev, s.loadRBAC, func(ev store.Event) {
		switch ev.Type {
		case store.Put:
			obj, err := s.rbacObject(ev.Key, ev.Value, ev.Revision)
			if err != nil {
				s.log.Warn("skipping an RBAC object that does not decode", "key", ev.Key, "err", err)
				return
			}
			s.rbacIndex.Set(obj)
		case store.Delete:
			if obj, err := s.rbacObject(ev.Key, ev.PrevValue, ev.Revision); err == nil {
				s.rbacIndex.Delete(obj)
			}
		}
	})
}

// followPrefix applies every change under prefix after rev to apply until ctx ends; when the
// watch fails or falls behind the store's history it lists again with load (which takes in
// the whole list and returns its revision) a second later. what names it in the log.
func (s *Server) followPrefix(ctx context.Context, what, prefix string, rev int64, load func(context.Context) (int64, error), apply func(store.Event)) {
	for ctx.Err() == nil {
		err := s.watchPrefix(ctx, prefix, rev, apply)
		if ctx.Err() != nil {
			return
		}
		s.log.Debug(what+" watch ended; listing again", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		if rev, err = load(ctx); err != nil {
			s.log.Warn(what+" relist failed", "err", err)
		}
	}
}

func (s *Server) watchPrefix(ctx context.Context, prefix string, rev int64, apply func(store.Event)) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := s.store.Watch(wctx, prefix, rev) // the changes after rev: the list's revision is rev
	if err != nil {
		return err
	}
	for ev := range ch {
		if ev.Type == store.Error {
			return ev.Err
		}
		apply(ev)
	}
	return errors.New("watch closed")
}

// noteRBACWrite puts an RBAC object this server just wrote into the index at once, so that
// the writer's next request sees it (the watch brings it too, and other servers' writes).
func (s *Server) noteRBACWrite(res *registry.Resource, obj runtime.Object) {
	if s.rbacIndex != nil && res.Group == registry.RBACGroup && obj != nil && accessor(obj).GetDeletionTimestamp() == nil {
		s.rbacIndex.Set(obj.DeepCopyObject())
	}
}

// admitRBAC refuses a Role, ClusterRole or binding that grants more than its writer holds,
// as Kubernetes' RBAC storage does: unless the writer is in system:masters, may `escalate`
// (roles) or `bind` (bindings) it, every rule written or bound must be covered by the
// writer's own. Internal writes (no user) are not checked, nor an update (old is the stored
// object; nil on create) that changes only what garbage collection needs (owner references,
// finalizers, managed fields), as Kubernetes' IsOnlyMutatingGCFields exempts.
func (s *Server) admitRBAC(ctx context.Context, res *registry.Resource, obj, old runtime.Object) error {
	if res.Group != registry.RBACGroup || s.rbacIndex == nil {
		return nil
	}
	u, ok := genericrequest.UserFrom(ctx)
	if !ok || rbac.EscalationAllowed(u) || onlyMutatingGCFields(obj, old) {
		return nil
	}
	gr := schema.GroupResource{Group: res.Group, Resource: res.Resource}
	switch o := obj.(type) {
	case *rbacv1.Role:
		if rbac.RoleEscalationAuthorized(ctx, s.authz, u, res.Resource, o.Namespace, o.Name) {
			return nil
		}
		if err := s.rbacIndex.ConfirmNoEscalation(u, o.Namespace, o.Rules); err != nil {
			return apierrors.NewForbidden(gr, o.Name, err)
		}
	case *rbacv1.ClusterRole:
		if rbac.RoleEscalationAuthorized(ctx, s.authz, u, res.Resource, "", o.Name) {
			return nil
		}
		if err := s.rbacIndex.ConfirmNoEscalation(u, "", o.Rules); err != nil {
			return apierrors.NewForbidden(gr, o.Name, err)
		}
		// To set, change or drop an aggregation rule, one must be able to escalate.
		if oldRole, _ := old.(*rbacv1.ClusterRole); o.AggregationRule != nil || (oldRole != nil && oldRole.AggregationRule != nil) {
			return apierrors.NewForbidden(gr, o.Name, errors.New("must have cluster-admin privileges to use the aggregationRule"))
		}
	case *rbacv1.RoleBinding:
		return s.admitBinding(ctx, gr, o.Name, o.Namespace, o.RoleRef)
	case *rbacv1.ClusterRoleBinding:
		return s.admitBinding(ctx, gr, o.Name, "", o.RoleRef)
	}
	return nil
}

// onlyMutatingGCFields reports whether obj differs from old (nil: a create) at most in its owner
// references, finalizers and managed fields (Kubernetes' rbac IsOnlyMutatingGCFields).
func onlyMutatingGCFields(obj, old runtime.Object) bool {
	if old == nil {
		return false
	}
	copied := obj.DeepCopyObject()
	cm, om := accessor(copied), accessor(old)
	cm.SetOwnerReferences(om.GetOwnerReferences())
	cm.SetFinalizers(om.GetFinalizers())
	cm.SetSelfLink(om.GetSelfLink())
	cm.SetManagedFields(om.GetManagedFields())
	return apiequality.Semantic.DeepEqual(copied, old)
}

func (s *Server) admitBinding(ctx context.Context, gr schema.GroupResource, name, ns string, ref rbacv1.RoleRef) error {
	u, _ := genericrequest.UserFrom(ctx)
	if rbac.BindingAuthorized(ctx, s.authz, u, ref, ns) {
		return nil
	}
	rules, err := s.rbacIndex.RoleRefRules(ref, ns)
	if err != nil {
		return apierrors.NewForbidden(gr, name, err)
	}
	if err := s.rbacIndex.ConfirmNoEscalation(u, ns, rules); err != nil {
		return apierrors.NewForbidden(gr, name, err)
	}
	return nil
}

// reconcileRBAC creates or completes the bootstrap ClusterRoles and ClusterRoleBindings, as
// kube-apiserver's rbac/bootstrap-roles post-start hook: missing rules, subjects, labels and
// annotations are added, extra ones kept; a role or binding annotated
// rbac.authorization.kubernetes.io/autoupdate: "false" is left alone.
func (s *Server) reconcileRBAC(ctx context.Context) error {
	roles := clusterRoleClient{s: s, ctx: ctx, res: s.rbacResource("clusterroles")}
	for _, r := range rbac.ClusterRoles() {
		r := r
		opts := reconciliation.ReconcileRoleOptions{Role: reconciliation.ClusterRoleRuleOwner{ClusterRole: &r}, Client: roles, Confirm: true}
		result, err := opts.Run()
		if err != nil {
			return fmt.Errorf("reconcile ClusterRole %s: %w", r.Name, err)
		}
		if result.Operation != reconciliation.ReconcileNone && !result.Protected {
			s.log.Debug("reconciled ClusterRole", "name", r.Name, "operation", result.Operation)
		}
	}
	bindings := clusterRoleBindingClient{s: s, ctx: ctx, res: s.rbacResource("clusterrolebindings")}
	for _, b := range rbac.ClusterRoleBindings() {
		b := b
		opts := reconciliation.ReconcileRoleBindingOptions{RoleBinding: reconciliation.ClusterRoleBindingAdapter{ClusterRoleBinding: &b}, Client: bindings, Confirm: true}
		if _, err := opts.Run(); err != nil {
			return fmt.Errorf("reconcile ClusterRoleBinding %s: %w", b.Name, err)
		}
	}
	nsRoles := roleClient{s: s, ctx: ctx, res: s.rbacResource("roles")}
	for _, r := range rbac.NamespaceRoles() {
		r := r
		opts := reconciliation.ReconcileRoleOptions{Role: reconciliation.RoleRuleOwner{Role: &r}, Client: nsRoles, Confirm: true}
		if _, err := opts.Run(); err != nil {
			return fmt.Errorf("reconcile Role %s/%s: %w", r.Namespace, r.Name, err)
		}
	}
	nsBindings := roleBindingClient{s: s, ctx: ctx, res: s.rbacResource("rolebindings")}
	for _, b := range rbac.NamespaceRoleBindings() {
		b := b
		opts := reconciliation.ReconcileRoleBindingOptions{RoleBinding: reconciliation.RoleBindingAdapter{RoleBinding: &b}, Client: nsBindings, Confirm: true}
		if _, err := opts.Run(); err != nil {
			return fmt.Errorf("reconcile RoleBinding %s/%s: %w", b.Namespace, b.Name, err)
		}
	}
	return nil
}

// roleClient is reconciliation's RuleOwnerModifier over the server's Roles.
type roleClient struct {
	s   *Server
	ctx context.Context
	res *registry.Resource
}

func (c roleClient) Get(ns, name string) (reconciliation.RuleOwner, error) {
	obj, _, err := c.s.getObject(c.ctx, c.res, ns, name)
	if err != nil {
		return nil, err
	}
	return reconciliation.RoleRuleOwner{Role: obj.(*rbacv1.Role)}, nil
}

func (c roleClient) Create(in reconciliation.RuleOwner) (reconciliation.RuleOwner, error) {
	obj, err := c.s.create(c.ctx, c.res, in.GetNamespace(), in.GetObject().DeepCopyObject(), false)
	if err != nil {
		return nil, err
	}
	return reconciliation.RoleRuleOwner{Role: obj.(*rbacv1.Role)}, nil
}

func (c roleClient) Update(in reconciliation.RuleOwner) (reconciliation.RuleOwner, error) {
	obj, err := c.s.update(c.ctx, c.res, in.GetNamespace(), in.GetName(), "", replaceWith(in.GetObject().DeepCopyObject()), false, false)
	if err != nil {
		return nil, err
	}
	return reconciliation.RoleRuleOwner{Role: obj.(*rbacv1.Role)}, nil
}

// roleBindingClient is reconciliation's RoleBindingModifier over the server's RoleBindings.
type roleBindingClient struct {
	s   *Server
	ctx context.Context
	res *registry.Resource
}

func (c roleBindingClient) Get(ns, name string) (reconciliation.RoleBinding, error) {
	obj, _, err := c.s.getObject(c.ctx, c.res, ns, name)
	if err != nil {
		return nil, err
	}
	return reconciliation.RoleBindingAdapter{RoleBinding: obj.(*rbacv1.RoleBinding)}, nil
}

func (c roleBindingClient) Create(in reconciliation.RoleBinding) (reconciliation.RoleBinding, error) {
	obj, err := c.s.create(c.ctx, c.res, in.GetNamespace(), in.GetObject().DeepCopyObject(), false)
	if err != nil {
		return nil, err
	}
	return reconciliation.RoleBindingAdapter{RoleBinding: obj.(*rbacv1.RoleBinding)}, nil
}

func (c roleBindingClient) Update(in reconciliation.RoleBinding) (reconciliation.RoleBinding, error) {
	obj, err := c.s.update(c.ctx, c.res, in.GetNamespace(), in.GetName(), "", replaceWith(in.GetObject().DeepCopyObject()), false, false)
	if err != nil {
		return nil, err
	}
	return reconciliation.RoleBindingAdapter{RoleBinding: obj.(*rbacv1.RoleBinding)}, nil
}

func (c roleBindingClient) Delete(ns, name string, uid types.UID) error {
	_, err := c.s.remove(c.ctx, c.res, ns, name, deleteWithUID(uid))
	return err
}

// clusterRoleClient is reconciliation's RuleOwnerModifier over the server's own storage.
type clusterRoleClient struct {
	s   *Server
	ctx context.Context
	res *registry.Resource
}

func (c clusterRoleClient) Get(_, name string) (reconciliation.RuleOwner, error) {
	obj, _, err := c.s.getObject(c.ctx, c.res, "", name)
	if err != nil {
		return nil, err
	}
	return reconciliation.ClusterRoleRuleOwner{ClusterRole: obj.(*rbacv1.ClusterRole)}, nil
}

func (c clusterRoleClient) Create(in reconciliation.RuleOwner) (reconciliation.RuleOwner, error) {
	obj, err := c.s.create(c.ctx, c.res, "", in.GetObject().DeepCopyObject(), false)
	if err != nil {
		return nil, err
	}
	return reconciliation.ClusterRoleRuleOwner{ClusterRole: obj.(*rbacv1.ClusterRole)}, nil
}

func (c clusterRoleClient) Update(in reconciliation.RuleOwner) (reconciliation.RuleOwner, error) {
	obj, err := c.s.update(c.ctx, c.res, "", in.GetName(), "", replaceWith(in.GetObject().DeepCopyObject()), false, false)
	if err != nil {
		return nil, err
	}
	return reconciliation.ClusterRoleRuleOwner{ClusterRole: obj.(*rbacv1.ClusterRole)}, nil
}

// clusterRoleBindingClient is reconciliation's RoleBindingModifier over the server's storage.
type clusterRoleBindingClient struct {
	s   *Server
	ctx context.Context
	res *registry.Resource
}

func (c clusterRoleBindingClient) Get(_, name string) (reconciliation.RoleBinding, error) {
	obj, _, err := c.s.getObject(c.ctx, c.res, "", name)
	if err != nil {
		return nil, err
	}
	return reconciliation.ClusterRoleBindingAdapter{ClusterRoleBinding: obj.(*rbacv1.ClusterRoleBinding)}, nil
}

func (c clusterRoleBindingClient) Create(in reconciliation.RoleBinding) (reconciliation.RoleBinding, error) {
	obj, err := c.s.create(c.ctx, c.res, "", in.GetObject().DeepCopyObject(), false)
	if err != nil {
		return nil, err
	}
	return reconciliation.ClusterRoleBindingAdapter{ClusterRoleBinding: obj.(*rbacv1.ClusterRoleBinding)}, nil
}

func (c clusterRoleBindingClient) Update(in reconciliation.RoleBinding) (reconciliation.RoleBinding, error) {
	obj, err := c.s.update(c.ctx, c.res, "", in.GetName(), "", replaceWith(in.GetObject().DeepCopyObject()), false, false)
	if err != nil {
		return nil, err
	}
	return reconciliation.ClusterRoleBindingAdapter{ClusterRoleBinding: obj.(*rbacv1.ClusterRoleBinding)}, nil
}

// Delete is used when a binding's roleRef changed (it cannot be updated): the binding is
// recreated.
func (c clusterRoleBindingClient) Delete(_, name string, uid types.UID) error {
	_, err := c.s.remove(c.ctx, c.res, "", name, deleteWithUID(uid))
	return err
}

func deleteWithUID(uid types.UID) *metav1.DeleteOptions {
	return &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}
}
