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

// roleAllows reports whether one of the default ClusterRole name's rules allows verb on
// group/resource.
func roleAllows(t *testing.T, name, verb, group, resource string) bool {
	t.Helper()
	for _, r := range ClusterRoles() {
		if r.Name != name {
			continue
		}
		a := authorizer.AttributesRecord{Verb: verb, APIGroup: group, Resource: resource, ResourceRequest: true}
		for i := range r.Rules {
			if RuleAllows(a, &r.Rules[i]) {
				return true
			}
		}
		return false
	}
	t.Fatalf("no default ClusterRole %q", name)
	return false
}

// TestBootstrapStorageRules: the storage.k8s.io rules of Kubernetes 1.32's bootstrap policy in
// the default roles drover has: the node's CSI rules, the scheduler's volume-limit and capacity
// reads, the volume binder's storage classes; view, edit and admin get none of them.
func TestBootstrapStorageRules(t *testing.T) {
	const storage = "storage.k8s.io"
	for _, c := range []struct {
		role, verb, resource string
		want                 bool
	}{
		{"system:node", "get", "volumeattachments", true},
		{"system:node", "list", "volumeattachments", false},
		{"system:node", "watch", "csidrivers", true},
		{"system:node", "create", "csidrivers", false},
		{"system:node", "create", "csinodes", true},
		{"system:node", "patch", "csinodes", true},
		{"system:node", "list", "csinodes", false},
		{"system:node", "get", "storageclasses", false},
		{"system:kube-scheduler", "list", "csinodes", true},
		{"system:kube-scheduler", "watch", "volumeattachments", true},
		{"system:kube-scheduler", "list", "csidrivers", true},
		{"system:kube-scheduler", "watch", "csistoragecapacities", true},
		{"system:kube-scheduler", "update", "csinodes", false},
		{ControllerManagerRole, "list", "storageclasses", true},
		{ControllerManagerRole, "create", "storageclasses", false},
		{"system:aggregate-to-view", "get", "storageclasses", false},
		{"system:aggregate-to-edit", "create", "storageclasses", false},
		{"system:aggregate-to-admin", "create", "storageclasses", false},
		{"system:aggregate-to-view", "list", "csistoragecapacities", false},
		{"cluster-admin", "deletecollection", "volumeattachments", true},
	} {
		if got := roleAllows(t, c.role, c.verb, storage, c.resource); got != c.want {
			t.Errorf("%s %s %s: %v, want %v", c.role, c.verb, c.resource, got, c.want)
		}
	}
}
