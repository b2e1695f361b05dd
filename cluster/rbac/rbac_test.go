package rbac

import (
	"context"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// TestRuleAllows: Kubernetes' rule matching: verbs, groups, resources with subresources and
// "*/scale", resourceNames, non-resource URLs with a trailing "*".
func TestRuleAllows(t *testing.T) {
	res := func(verb, group, resource, sub, name string) authorizer.AttributesRecord {
		return authorizer.AttributesRecord{Verb: verb, APIGroup: group, Resource: resource, Subresource: sub, Name: name, ResourceRequest: true}
	}
	path := func(verb, p string) authorizer.AttributesRecord {
		return authorizer.AttributesRecord{Verb: verb, Path: p}
	}
	for _, tc := range []struct {
		rule rbacv1.PolicyRule
		a    authorizer.AttributesRecord
		want bool
	}{
		{rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}, res("get", "", "pods", "", "p"), true},
		{rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}, res("list", "", "pods", "", ""), false},
		{rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}, res("get", "apps", "pods", "", ""), false},
		{rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}, res("get", "", "pods", "log", "p"), false},
		{rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods/log"}}, res("get", "", "pods", "log", "p"), true},
		{rbacv1.PolicyRule{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*/scale"}}, res("update", "apps", "deployments", "scale", "d"), true},
		{rbacv1.PolicyRule{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*/scale"}}, res("update", "apps", "deployments", "", "d"), false},
		{rbacv1.PolicyRule{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}, res("delete", "x", "y", "z", "n"), true},
		{rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"a"}}, res("get", "", "secrets", "", "a"), true},
		{rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"a"}}, res("get", "", "secrets", "", "b"), false},
		{rbacv1.PolicyRule{Verbs: []string{"list"}, APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"a"}}, res("list", "", "secrets", "", ""), false},
		{rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/metrics"}}, path("get", "/metrics"), true},
		{rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/metrics"}}, path("get", "/metrics/slis"), false},
		{rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/apis/*"}}, path("get", "/apis/apps/v1"), true},
		{rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/apis/*"}}, path("get", "/apis"), false},
		{rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"*"}}, path("get", "/anything"), true},
		{rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/metrics"}}, path("post", "/metrics"), false},
	} {
		if got := RuleAllows(tc.a, &tc.rule); got != tc.want {
			t.Errorf("rule %+v on %+v: %v, want %v", tc.rule, tc.a, got, tc.want)
		}
	}
}

// TestBindings: User, Group and ServiceAccount subjects; a RoleBinding's ServiceAccount
// subject without a namespace is in the binding's; RoleBindings only apply in their
// namespace; a binding to a missing role is a reason, not an allowance.
func TestBindings(t *testing.T) {
	x := NewIndex()
	x.Set(&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "pods"}, Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}}})
	x.Set(&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: "a"}, Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}}}})
	x.Set(&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "devs"}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "pods"},
		Subjects: []rbacv1.Subject{{Kind: "Group", Name: "devs"}}})
	x.Set(&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "sa", Namespace: "a"}, RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "cm"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "builder"}}})
	x.Set(&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "dangling", Namespace: "a"}, RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "gone"},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "bob"}}})
	a := NewAuthorizer(x)
	check := func(u user.Info, ns, resource string) (bool, string) {
		d, reason, err := a.Authorize(context.Background(), authorizer.AttributesRecord{User: u, Verb: "get", Namespace: ns, Resource: resource, ResourceRequest: true})
		if err != nil {
			t.Fatal(err)
		}
		return d == authorizer.DecisionAllow, reason
	}
	dev := &user.DefaultInfo{Name: "ann", Groups: []string{"devs"}}
	sa := &user.DefaultInfo{Name: "system:serviceaccount:a:builder"}
	other := &user.DefaultInfo{Name: "system:serviceaccount:b:builder"}
	bob := &user.DefaultInfo{Name: "bob"}
	if ok, reason := check(dev, "z", "pods"); !ok || reason != `RBAC: allowed by ClusterRoleBinding "devs" of ClusterRole "pods" to Group "devs"` {
		t.Errorf("group binding: %v %q", ok, reason)
	}
	if ok, _ := check(sa, "a", "configmaps"); !ok {
		t.Errorf("ServiceAccount in the binding's namespace refused")
	}
	if ok, _ := check(sa, "b", "configmaps"); ok {
		t.Errorf("a RoleBinding applied in another namespace")
	}
	if ok, _ := check(other, "a", "configmaps"); ok {
		t.Errorf("the ServiceAccount of another namespace allowed")
	}
	if ok, reason := check(bob, "a", "configmaps"); ok || reason != `RBAC: role.rbac.authorization.k8s.io "gone" not found` {
		t.Errorf("dangling binding: %v %q", ok, reason)
	}
	x.Delete(&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "devs"}})
	if ok, _ := check(dev, "z", "pods"); ok {
		t.Errorf("a deleted binding still allows")
	}
	if err := x.ConfirmNoEscalation(sa, "a", []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}}}); err != nil {
		t.Errorf("granting what one holds: %v", err)
	}
	if err := x.ConfirmNoEscalation(sa, "a", []rbacv1.PolicyRule{{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"configmaps"}}}); err == nil {
		t.Errorf("granting list without holding it")
	}
}
