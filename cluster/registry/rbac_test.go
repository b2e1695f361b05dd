package registry

import (
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestRBACValidation: Kubernetes' messages and field paths for rules, role refs and subjects.
func TestRBACValidation(t *testing.T) {
	rb, _ := lookup(schema.GroupVersionResource{Group: RBACGroup, Version: "v1", Resource: "rolebindings"})
	crb, _ := lookup(schema.GroupVersionResource{Group: RBACGroup, Version: "v1", Resource: "clusterrolebindings"})
	cr, _ := lookup(schema.GroupVersionResource{Group: RBACGroup, Version: "v1", Resource: "clusterroles"})
	b := &rbacv1.RoleBinding{RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "r"},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "u"}, {Kind: "ServiceAccount", Name: "sa"}}}
	rb.Default(b)
	if errs := rb.Validate(b); len(errs) != 0 || b.RoleRef.APIGroup != RBACGroup || b.Subjects[0].APIGroup != RBACGroup || b.Subjects[1].APIGroup != "" {
		t.Fatalf("a valid RoleBinding: %v %+v", errs, b)
	}
	c := &rbacv1.ClusterRoleBinding{RoleRef: rbacv1.RoleRef{APIGroup: RBACGroup, Kind: "Role", Name: "r"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "sa"}, {Kind: "Group", APIGroup: "x", Name: "g"}, {Kind: "User"}}}
	got := crb.Validate(c).ToAggregate().Error()
	for _, want := range []string{`roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"`, `subjects[0].namespace: Required value`,
		`subjects[1].apiGroup: Unsupported value: "x": supported values: "rbac.authorization.k8s.io"`, `subjects[2].name: Required value`} {
		if !strings.Contains(got, want) {
			t.Errorf("ClusterRoleBinding errors lack %q:\n%s", want, got)
		}
	}
	role := &rbacv1.ClusterRole{Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}}, {Verbs: []string{"get"}, NonResourceURLs: []string{"/x"}, Resources: []string{"pods"}}},
		AggregationRule: &rbacv1.AggregationRule{}}
	got = cr.Validate(role).ToAggregate().Error()
	for _, want := range []string{"rules[0].apiGroups: Required value: resource rules must supply at least one api group",
		"rules[0].resources: Required value: resource rules must supply at least one resource",
		"rules[1].nonResourceURLs: Invalid value: []string{\"/x\"}: rules cannot apply to both regular resources and non-resource URLs",
		"aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector required if aggregationRule is non-nil"} {
		if !strings.Contains(got, want) {
			t.Errorf("ClusterRole errors lack %q:\n%s", want, got)
		}
	}
	row, err := rb.Table.Row(&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "b"}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "ci", Name: "a"}, {Kind: "User", Name: "u"}, {Kind: "Group", Name: "g"}}})
	if err != nil || row[1] != "ClusterRole/view" || row[3] != "u" || row[4] != "g" || row[5] != "ci/a" {
		t.Errorf("binding row: %v %v", row, err)
	}
}
