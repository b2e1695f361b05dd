package registry

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// vapTestPolicy is a valid policy before defaulting.
func vapTestPolicy(edit func(p *admissionregistrationv1.ValidatingAdmissionPolicy)) *admissionregistrationv1.ValidatingAdmissionPolicy {
	p := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "replicas.example.com"},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			MatchConstraints: &admissionregistrationv1.MatchResources{
				ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
					RuleWithOperations: admissionregistrationv1.RuleWithOperations{
						Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
						Rule: admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"},
							Resources: []string{"deployments"}},
					},
				}},
			},
			Validations: []admissionregistrationv1.Validation{{Expression: "object.spec.replicas > 1"}},
		},
	}
	if edit != nil {
		edit(p)
	}
	return p
}

func vapErrs(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// TestValidatingAdmissionPolicyRegistered: both resources cluster-scoped in api-extensions,
// the policy with its status subresource.
func TestValidatingAdmissionPolicyRegistered(t *testing.T) {
	p, ok := admGVR("validatingadmissionpolicies")
	if !ok || p.Namespaced || !p.HasStatus || !cmp.Equal(p.Subresources, []string{"status"}) ||
		!cmp.Equal(p.Categories, []string{"api-extensions"}) || p.Kind != "ValidatingAdmissionPolicy" {
		t.Errorf("validatingadmissionpolicies: %+v", p)
	}
	b, ok := admGVR("validatingadmissionpolicybindings")
	if !ok || b.Namespaced || b.HasStatus || b.Subresources != nil || b.Kind != "ValidatingAdmissionPolicyBinding" {
		t.Errorf("validatingadmissionpolicybindings: %+v", b)
	}
}

// TestValidatingAdmissionPolicyDefaults: failurePolicy Fail, matchPolicy Equivalent, empty
// selectors and scope "*", in the policy and in a binding's matchResources.
func TestValidatingAdmissionPolicyDefaults(t *testing.T) {
	r, _ := admGVR("validatingadmissionpolicies")
	p := vapTestPolicy(nil)
	r.Default(p)
	mc := p.Spec.MatchConstraints
	if *p.Spec.FailurePolicy != admissionregistrationv1.Fail || *mc.MatchPolicy != admissionregistrationv1.Equivalent ||
		mc.NamespaceSelector == nil || mc.ObjectSelector == nil || *mc.ResourceRules[0].Scope != admissionregistrationv1.AllScopes {
		t.Errorf("defaulted policy: %+v", p.Spec)
	}
	if errs := r.Validate(p); len(errs) != 0 {
		t.Errorf("valid policy: %v", errs)
	}
	br, _ := admGVR("validatingadmissionpolicybindings")
	b := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
		PolicyName: "p", ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
		MatchResources: &admissionregistrationv1.MatchResources{}}}
	br.Default(b)
	if *b.Spec.MatchResources.MatchPolicy != admissionregistrationv1.Equivalent || b.Spec.MatchResources.NamespaceSelector == nil {
		t.Errorf("defaulted binding: %+v", b.Spec)
	}
	if errs := br.Validate(b); len(errs) != 0 {
		t.Errorf("valid binding: %v", errs)
	}
}

// TestValidatingAdmissionPolicyValidation: Kubernetes' messages for what a policy gets wrong.
func TestValidatingAdmissionPolicyValidation(t *testing.T) {
	r, _ := admGVR("validatingadmissionpolicies")
	tests := []struct {
		name string
		edit func(p *admissionregistrationv1.ValidatingAdmissionPolicy)
		want []string
	}{
		{"no match constraints", func(p *admissionregistrationv1.ValidatingAdmissionPolicy) { p.Spec.MatchConstraints = nil },
			[]string{"spec.matchConstraints: Required value"}},
		{"no resource rules", func(p *admissionregistrationv1.ValidatingAdmissionPolicy) {
			p.Spec.MatchConstraints.ResourceRules = nil
		},
			[]string{"spec.matchConstraints.resourceRules: Required value"}},
		{"nothing to validate", func(p *admissionregistrationv1.ValidatingAdmissionPolicy) { p.Spec.Validations = nil },
			[]string{"spec.validations: Required value: validations or auditAnnotations must contain at least one item",
				"spec.auditAnnotations: Required value: validations or auditAnnotations must contain at least one item"}},
		{"not CEL", func(p *admissionregistrationv1.ValidatingAdmissionPolicy) {
			p.Spec.Validations[0].Expression = "object.spec.replicas >"
		},
			[]string{"spec.validations[0].expression: Invalid value: \"object.spec.replicas >\": compilation failed: ERROR: <input>:1:23: Syntax error: mismatched input '<EOF>'"}},
		{"not a bool", func(p *admissionregistrationv1.ValidatingAdmissionPolicy) { p.Spec.Validations[0].Expression = "'x'" },
			[]string{"spec.validations[0].expression: Invalid value: \"'x'\": must evaluate to bool"}},
		{"params without paramKind", func(p *admissionregistrationv1.ValidatingAdmissionPolicy) {
			p.Spec.Validations[0].Expression = "params.x == 1"
		}, []string{"undeclared reference to 'params'"}},
		{"variables", func(p *admissionregistrationv1.ValidatingAdmissionPolicy) {
			p.Spec.Variables = []admissionregistrationv1.Variable{{Name: "r", Expression: "object.spec.replicas"}, {Name: "if", Expression: "1"}}
			p.Spec.Validations[0].Expression = "variables.r > 1"
		}, []string{"spec.variables[1].name: Invalid value: \"if\": name is not a valid CEL identifier"}},
		{"message", func(p *admissionregistrationv1.ValidatingAdmissionPolicy) {
			p.Spec.Validations[0].Message = "two\nlines"
			p.Spec.Validations[0].Reason = ptr.To(metav1.StatusReasonConflict)
		}, []string{"spec.validations[0].message: Invalid value: \"two\\nlines\": message must not contain line breaks",
			"spec.validations[0].reason: Unsupported value: \"Conflict\": supported values: \"Forbidden\", \"Invalid\", \"RequestEntityTooLarge\", \"Unauthorized\""}},
		{"paramKind", func(p *admissionregistrationv1.ValidatingAdmissionPolicy) {
			p.Spec.ParamKind = &admissionregistrationv1.ParamKind{APIVersion: "a/b/c"}
		}, []string{"spec.paramKind.apiVersion: Invalid value: \"a/b/c\": unexpected GroupVersion string: a/b/c", "spec.paramKind.kind: Required value"}},
		{"match condition with params", func(p *admissionregistrationv1.ValidatingAdmissionPolicy) {
			p.Spec.ParamKind = &admissionregistrationv1.ParamKind{APIVersion: "v1", Kind: "ConfigMap"}
			p.Spec.MatchConditions = []admissionregistrationv1.MatchCondition{{Name: "m", Expression: "params.data.on == 'yes'"}}
		}, nil},
	}
	for _, tt := range tests {
		p := vapTestPolicy(tt.edit)
		r.Default(p)
		got := vapErrs(r.Validate(p))
		if len(got) != len(tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
			continue
		}
		for i := range got {
			if !strings.Contains(got[i], tt.want[i]) {
				t.Errorf("%s: %q, want %q", tt.name, got[i], tt.want[i])
			}
		}
	}
}

// TestValidatingAdmissionPolicyBindingValidation: paramRef and validationActions as upstream.
func TestValidatingAdmissionPolicyBindingValidation(t *testing.T) {
	r, _ := admGVR("validatingadmissionpolicybindings")
	b := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
		ValidationActions: []admissionregistrationv1.ValidationAction{"Deny", "Warn", "Deny", "Log"},
		ParamRef: &admissionregistrationv1.ParamRef{Name: "a/b", Selector: &metav1.LabelSelector{},
			ParameterNotFoundAction: ptr.To(admissionregistrationv1.ParameterNotFoundActionType("Skip"))},
	}}
	want := []string{
		`spec.policyName: Required value`,
		`spec.paramRef.name: Invalid value: "a/b": may not contain '/'`,
		`spec.paramRef.name: Forbidden: name and selector are mutually exclusive`,
		`spec.paramRef.selector: Forbidden: name and selector are mutually exclusive`,
		`spec.paramRef.parameterNotFoundAction: Unsupported value: "Skip": supported values: "Deny", "Allow"`,
		`spec.validationActions[2]: Duplicate value: "Deny"`,
		`spec.validationActions[3]: Unsupported value: "Log": supported values: "Audit", "Deny", "Warn"`,
		`spec.validationActions: Invalid value: []v1.ValidationAction{"Deny", "Warn", "Deny", "Log"}: must not contain both Deny and Warn`,
	}
	got := vapErrs(r.Validate(b))
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i := range got {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("%q, want %q", got[i], want[i])
		}
	}
}

// TestValidatingAdmissionPolicyTable: Kubernetes' columns.
func TestValidatingAdmissionPolicyTable(t *testing.T) {
	created := metav1.NewTime(time.Now().Add(-5 * time.Hour))
	r, _ := admGVR("validatingadmissionpolicies")
	p := vapTestPolicy(func(p *admissionregistrationv1.ValidatingAdmissionPolicy) {
		p.CreationTimestamp = created
		p.Spec.ParamKind = &admissionregistrationv1.ParamKind{APIVersion: "v1", Kind: "ConfigMap"}
	})
	got, err := r.Table.Row(p)
	if err != nil || !cmp.Equal(got, []interface{}{"replicas.example.com", int64(1), "v1/ConfigMap", "5h"}) {
		t.Errorf("policy row %v %v", got, err)
	}
	br, _ := admGVR("validatingadmissionpolicybindings")
	for _, tt := range []struct {
		ref  *admissionregistrationv1.ParamRef
		want string
	}{
		{nil, "<unset>"},
		{&admissionregistrationv1.ParamRef{Name: "limits", Namespace: "ns"}, "ns/limits"},
		{&admissionregistrationv1.ParamRef{Name: "limits"}, "*/limits"},
	} {
		b := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: "b", CreationTimestamp: created},
			Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: "p", ParamRef: tt.ref}}
		got, err := br.Table.Row(b)
		if err != nil || !cmp.Equal(got, []interface{}{"b", "p", tt.want, "5h"}) {
			t.Errorf("binding row %v %v", got, err)
		}
	}
	var cols []string
	for _, c := range append(r.Table.Columns, br.Table.Columns...) {
		cols = append(cols, c.Name)
	}
	if want := []string{"Name", "Validations", "ParamKind", "Age", "Name", "PolicyName", "ParamRef", "Age"}; !cmp.Equal(cols, want) {
		t.Errorf("columns %v", cols)
	}
}

// TestValidatingAdmissionPolicyStatusValidation: expression warnings need a warning and a
// JSONPath field reference; conditions are metav1 conditions.
func TestValidatingAdmissionPolicyStatusValidation(t *testing.T) {
	r, _ := admGVR("validatingadmissionpolicies")
	p := vapTestPolicy(nil)
	p.Status.TypeChecking = &admissionregistrationv1.TypeChecking{ExpressionWarnings: []admissionregistrationv1.ExpressionWarning{
		{FieldRef: "spec.validations[0].expression", Warning: "w"}, {FieldRef: "", Warning: ""}, {FieldRef: "spec.[", Warning: "x"}}}
	got := vapErrs(r.ValidateStatusUpdate(p, p))
	want := []string{"status.typeChecking.expressionWarnings[1].warning: Required value",
		"status.typeChecking.expressionWarnings[1].fieldRef: Required value",
		"status.typeChecking.expressionWarnings[2].fieldRef: Invalid value: \"spec.[\": invalid JSONPath"}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i := range got {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("%q, want %q", got[i], want[i])
		}
	}
}
