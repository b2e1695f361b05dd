package clusterroleaggregation_test

import (
	"context"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/cluster/controller/clusterroleaggregation"
	"github.com/drover-ci/drover/internal/uptest"
)

func hasRule(r *rbacv1.ClusterRole, resource, verb string) bool {
	for _, rule := range r.Rules {
		for _, res := range rule.Resources {
			for _, v := range rule.Verbs {
				if res == resource && v == verb {
					return true
				}
			}
		}
	}
	return false
}

// TestAggregation: against a real API server, the bootstrap view, edit and admin roles get
// the rules of the system:aggregate-to-* roles (view's flow into edit and admin); a ClusterRole
// an operator labels aggregate-to-view adds its rules to all three, and taking the label off
// takes them away.
func TestAggregation(t *testing.T) {
	srv := apiservertest.Start(t)
	cs, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	factory := informers.NewSharedInformerFactory(cs, 0)
	c, err := clusterroleaggregation.New(controller.Context{Client: cs, Informers: factory, Options: controller.Options{Workers: 1}})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	go func() { _ = c.Run(ctx) }()
	get := func(name string) *rbacv1.ClusterRole {
		r, err := cs.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get %s: %v", name, err)
		}
		return r
	}
	uptest.Eventually(t, 20*time.Second, "view, edit and admin aggregated", func() bool {
		return hasRule(get("view"), "pods", "list") && hasRule(get("edit"), "pods", "list") && hasRule(get("edit"), "secrets", "create") &&
			hasRule(get("admin"), "secrets", "create") && hasRule(get("admin"), "rolebindings", "create") && !hasRule(get("view"), "secrets", "get")
	})
	crd := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "widgets-view", Labels: map[string]string{"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{"example.com"}, Resources: []string{"widgets"}}}}
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 20*time.Second, "widgets in view, edit and admin", func() bool {
		return hasRule(get("view"), "widgets", "get") && hasRule(get("edit"), "widgets", "get") && hasRule(get("admin"), "widgets", "get")
	})
	crd = get("widgets-view")
	crd.Labels = nil
	if _, err := cs.RbacV1().ClusterRoles().Update(ctx, crd, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 20*time.Second, "widgets gone from view, edit and admin", func() bool {
		return !hasRule(get("view"), "widgets", "get") && !hasRule(get("edit"), "widgets", "get") && !hasRule(get("admin"), "widgets", "get")
	})
}
