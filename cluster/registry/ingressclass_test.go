package registry

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestIngressClassValidateAndDefault(t *testing.T) {
	params := func(scope, ns *string) *networkingv1.IngressClassParametersReference {
		return &networkingv1.IngressClassParametersReference{APIGroup: ptr.To("k8s.example.com"), Kind: "IngressParameters", Name: "external-lb", Scope: scope, Namespace: ns}
	}
	tests := []struct {
		name   string
		mutate func(*networkingv1.IngressClass)
		want   []string
	}{
		{"ok", nil, nil},
		{"controller required", func(ic *networkingv1.IngressClass) { ic.Spec.Controller = "" },
			[]string{"spec.controller: Required value"}},
		{"controller without domain", func(ic *networkingv1.IngressClass) { ic.Spec.Controller = "controller" },
			[]string{`spec.controller: Invalid value: "controller": must be a domain-prefixed path (such as "acme.io/foo")`}},
		{"controller too long", func(ic *networkingv1.IngressClass) { ic.Spec.Controller = "example.com/" + strings.Repeat("a", 240) },
			[]string{"spec.controller: Too long: may not be more than 250 bytes"}},
		{"parameters without scope are cluster-scoped", func(ic *networkingv1.IngressClass) { ic.Spec.Parameters = params(nil, nil) }, nil},
		{"namespace scope needs a namespace", func(ic *networkingv1.IngressClass) { ic.Spec.Parameters = params(ptr.To("Namespace"), nil) },
			[]string{"spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'"}},
		{"namespace scope", func(ic *networkingv1.IngressClass) {
			ic.Spec.Parameters = params(ptr.To("Namespace"), ptr.To("foo-ns"))
		}, nil},
		{"cluster scope forbids a namespace", func(ic *networkingv1.IngressClass) { ic.Spec.Parameters = params(ptr.To("Cluster"), ptr.To("foo-ns")) },
			[]string{"spec.parameters.namespace: Forbidden: `parameters.scope` is set to 'Cluster'"}},
		{"unknown scope", func(ic *networkingv1.IngressClass) { ic.Spec.Parameters = params(ptr.To("Global"), nil) },
			[]string{`spec.parameters.scope: Unsupported value: "Global": supported values: "Cluster", "Namespace"`}},
		{"kind and name", func(ic *networkingv1.IngressClass) {
			ic.Spec.Parameters = &networkingv1.IngressClassParametersReference{Kind: "a/b"}
		}, []string{`spec.parameters.kind: Invalid value: "a/b": may not contain '/'`, "spec.parameters.name: Required value: name is required"}},
	}
	res := podLookup(t, NetworkingGroup, "ingressclasses")
	if res.Namespaced || res.HasStatus {
		t.Errorf("ingressclasses: namespaced %v, status %v", res.Namespaced, res.HasStatus)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ic := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "nginx"}, Spec: networkingv1.IngressClassSpec{Controller: "example.com/ingress-controller"}}
			if tt.mutate != nil {
				tt.mutate(ic)
			}
			res.Default(ic)
			if diff := cmp.Diff(tt.want, metaErrStrings(res.Validate(ic))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if p := ic.Spec.Parameters; p != nil && p.Scope == nil {
				t.Errorf("parameters scope not defaulted: %+v", p)
			}
		})
	}
}

func TestIngressClassControllerImmutableAndTable(t *testing.T) {
	res := podLookup(t, NetworkingGroup, "ingressclasses")
	old := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "nginx"}, Spec: networkingv1.IngressClassSpec{Controller: "example.com/a"}}
	upd := old.DeepCopy()
	upd.Spec.Controller = "example.com/b"
	if diff := cmp.Diff([]string{`spec.controller: Invalid value: "example.com/b": field is immutable`}, metaErrStrings(res.ValidateUpdate(upd, old))); diff != "" {
		t.Errorf("update errors (-want +got):\n%s", diff)
	}
	upd.Spec.Controller = old.Spec.Controller
	upd.Spec.Parameters = &networkingv1.IngressClassParametersReference{APIGroup: ptr.To("k8s.example.com"), Kind: "IngressParameters", Name: "lb"}
	res.Default(upd)
	if errs := res.ValidateUpdate(upd, old); len(errs) > 0 {
		t.Errorf("parameters update: %v", errs)
	}
	row, err := res.Table.Row(upd)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]interface{}{"nginx", "example.com/a", "IngressParameters.k8s.example.com/lb", "<unknown>"}, row); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
	row, _ = res.Table.Row(old)
	if row[2] != "<none>" {
		t.Errorf("parameters cell %v", row[2])
	}
}
