package rbac

import (
	"context"
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/component-helpers/auth/rbac/validation"
)

// EscalationAllowed: members of system:masters may grant anything, as in Kubernetes.
func EscalationAllowed(u user.Info) bool {
	return u != nil && slices.Contains(u.GetGroups(), user.SystemPrivilegedGroup)
}

// RoleEscalationAuthorized reports whether u may `escalate` on the role (resource "roles" or
// "clusterroles"), which lets it write rules it does not hold.
func RoleEscalationAuthorized(ctx context.Context, a authorizer.Authorizer, u user.Info, resource, ns, name string) bool {
	if u == nil {
		return false
	}
	d, _, err := a.Authorize(ctx, authorizer.AttributesRecord{User: u, Verb: "escalate", APIGroup: rbacv1.GroupName, APIVersion: "*",
		Resource: resource, Namespace: ns, Name: name, ResourceRequest: true})
	return err == nil && d == authorizer.DecisionAllow
}

// BindingAuthorized reports whether u may `bind` the role ref names (bindingNS: the
// RoleBinding's namespace, "" for a ClusterRoleBinding).
func BindingAuthorized(ctx context.Context, a authorizer.Authorizer, u user.Info, ref rbacv1.RoleRef, bindingNS string) bool {
	if u == nil {
		return false
	}
	res := "roles"
	if ref.Kind == "ClusterRole" {
		res = "clusterroles"
	}
	d, _, err := a.Authorize(ctx, authorizer.AttributesRecord{User: u, Verb: "bind", APIGroup: rbacv1.GroupName, APIVersion: "*",
		Resource: res, Namespace: bindingNS, Name: ref.Name, ResourceRequest: true})
	return err == nil && d == authorizer.DecisionAllow
}

// ConfirmNoEscalation returns an error when rules grant something u does not hold in
// namespace ns (cluster-wide: ""), with Kubernetes' message.
func (x *Index) ConfirmNoEscalation(u user.Info, ns string, rules []rbacv1.PolicyRule) error {
	owner, errs := x.Rules(u, ns)
	covered, missing := validation.Covers(owner, rules)
	if covered {
		return nil
	}
	resolution := ""
	if len(errs) > 0 {
		resolution = fmt.Sprintf("; resolution errors: %v", utilerrors.NewAggregate(errs))
	}
	var groups []string
	if u != nil {
		groups = u.GetGroups()
	}
	return fmt.Errorf("user %q (groups=%q) is attempting to grant RBAC permissions not currently held:\n%s%s", userName(u), groups, compactRules(missing), resolution)
}

func userName(u user.Info) string {
	if u == nil {
		return ""
	}
	return u.GetName()
}

// compactRules prints rules one a line as Kubernetes' rbacv1helpers.CompactString does.
func compactRules(rules []rbacv1.PolicyRule) string {
	lines := make([]string, len(rules))
	for i, r := range rules {
		lines[i] = CompactString(r)
	}
	return strings.Join(lines, "\n")
}

// CompactString is rule as {APIGroups:["apps"], Resources:["deployments"], Verbs:["get"]}.
func CompactString(r rbacv1.PolicyRule) string {
	var parts []string
	add := func(name string, vals []string) {
		if len(vals) == 0 {
			return
		}
		q := make([]string, len(vals))
		for i, v := range vals {
			q[i] = fmt.Sprintf("%q", v)
		}
		parts = append(parts, fmt.Sprintf("%s:[%s]", name, strings.Join(q, ", ")))
	}
	add("APIGroups", r.APIGroups)
	add("Resources", r.Resources)
	add("ResourceNames", r.ResourceNames)
	add("NonResourceURLs", r.NonResourceURLs)
	add("Verbs", r.Verbs)
	return "{" + strings.Join(parts, ", ") + "}"
}
