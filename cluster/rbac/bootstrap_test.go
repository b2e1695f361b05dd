package rbac

import (
	"context"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// TestBootstrapIngressRules: as Kubernetes' bootstrap policy, the roles aggregated into view
// read ingresses and their status, those aggregated into edit write ingresses; neither grants
// FlowSchemas or PriorityLevelConfigurations (cluster configuration, cluster-admin's).
func TestBootstrapIngressRules(t *testing.T) {
	x := NewIndex()
	for _, cr := range ClusterRoles() {
		x.Set(cr.DeepCopy())
	}
	bind := func(role, who string) {
		x.Set(&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: who, Namespace: "ci"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacGroup, Kind: "ClusterRole", Name: role},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacGroup, Name: who}}})
	}
	bind("system:aggregate-to-view", "viewer")
	bind("system:aggregate-to-edit", "editor")
	a := NewAuthorizer(x)
	allowed := func(who, verb, group, resource, sub string) bool {
		d, _, err := a.Authorize(context.Background(), authorizer.AttributesRecord{User: &user.DefaultInfo{Name: who},
			Verb: verb, Namespace: "ci", APIGroup: group, Resource: resource, Subresource: sub, Name: "web", ResourceRequest: true})
		if err != nil {
			t.Fatal(err)
		}
		return d == authorizer.DecisionAllow
	}
	for _, tc := range []struct {
		who, verb, group, resource, sub string
		want                            bool
	}{
		{"viewer", "get", networkingGroup, "ingresses", "", true},
		{"viewer", "watch", networkingGroup, "ingresses", "", true},
		{"viewer", "get", networkingGroup, "ingresses", "status", true},
		{"viewer", "create", networkingGroup, "ingresses", "", false},
		{"viewer", "get", networkingGroup, "ingressclasses", "", false},
		{"editor", "create", networkingGroup, "ingresses", "", true},
		{"editor", "patch", networkingGroup, "ingresses", "", true},
		{"editor", "deletecollection", networkingGroup, "ingresses", "", true},
		{"editor", "update", networkingGroup, "ingresses", "status", false},
		{"editor", "create", "flowcontrol.apiserver.k8s.io", "flowschemas", "", false},
	} {
		if got := allowed(tc.who, tc.verb, tc.group, tc.resource, tc.sub); got != tc.want {
			t.Errorf("%s %s %s/%s/%s: %v, want %v", tc.who, tc.verb, tc.group, tc.resource, tc.sub, got, tc.want)
		}
	}
}
