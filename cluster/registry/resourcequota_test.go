package registry

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestResourceQuotaValidation(t *testing.T) {
	r := podLookup(t, "", "resourcequotas")
	if len(r.ShortNames) != 1 || r.ShortNames[0] != "quota" || !r.HasSubresource("status") {
		t.Errorf("resource = %+v", r)
	}
	cases := []struct {
		name string
		spec corev1.ResourceQuotaSpec
		want string // "" valid
	}{
		{"counts", corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"pods": resource.MustParse("3"), "count/deployments.apps": resource.MustParse("2"),
			"configmaps": resource.MustParse("1"), "requests.storage": resource.MustParse("1Gi"), "gold.storageclass.storage.k8s.io/requests.storage": resource.MustParse("1Gi")}}, ""},
		{"negative", corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"cpu": resource.MustParse("-1")}},
			"spec.hard[cpu]: Invalid value: \"-1\": must be greater than or equal to 0"},
		{"fraction of pods", corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"pods": resource.MustParse("1500m")}},
			"spec.hard[pods]: Invalid value: \"1500m\": must be an integer"},
		{"unknown", corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"widgets": resource.MustParse("1")}},
			"spec.hard[widgets]: Invalid value: widgets: must be a standard resource type or fully qualified"},
		{"not for quota", corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"storage": resource.MustParse("1")}},
			"spec.hard[storage]: Invalid value: storage: must be a standard resource for quota"},
		{"scope on services", corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"services": resource.MustParse("1")},
			Scopes: []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort}},
			"spec.scopes: Invalid value: []core.ResourceQuotaScope{\"BestEffort\"}: unsupported scope applied to resource"},
		{"conflicting", corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"pods": resource.MustParse("1")},
			Scopes: []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating}},
			"conflicting scopes"},
		{"selector operator", corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"pods": resource.MustParse("1")},
			ScopeSelector: &corev1.ScopeSelector{MatchExpressions: []corev1.ScopedResourceSelectorRequirement{{ScopeName: corev1.ResourceQuotaScopePriorityClass, Operator: corev1.ScopeSelectorOpIn}}}},
			"spec.scopeSelector.matchExpressions.values: Required value: must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"},
	}
	for _, c := range cases {
		rq := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "q", Namespace: "ns"}, Spec: c.spec}
		errs := r.Validate(rq)
		switch {
		case c.want == "" && len(errs) > 0:
			t.Errorf("%s: %v", c.name, errs)
		case c.want != "" && (len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), strings.ReplaceAll(c.want, "core.", "v1."))):
			t.Errorf("%s: %v, want %s", c.name, errs, c.want)
		}
	}
	old := &corev1.ResourceQuota{Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"pods": resource.MustParse("1")}}}
	upd := old.DeepCopy()
	upd.Spec.Scopes = []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort}
	if errs := r.ValidateUpdate(upd, old); len(errs) != 1 || !strings.Contains(errs[0].Error(), "spec.scopes: Invalid value") || errs[0].Detail != "field is immutable" {
		t.Errorf("scope change: %v", errs)
	}
}

func TestResourceQuotaTable(t *testing.T) {
	r := podLookup(t, "", "resourcequotas")
	rq := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "q"}, Status: corev1.ResourceQuotaStatus{
		Hard: corev1.ResourceList{"pods": resource.MustParse("3"), "limits.cpu": resource.MustParse("2"), "requests.cpu": resource.MustParse("1")},
		Used: corev1.ResourceList{"pods": resource.MustParse("1"), "limits.cpu": resource.MustParse("500m"), "requests.cpu": resource.MustParse("0")}}}
	row, err := r.Table.Row(rq)
	if err != nil {
		t.Fatal(err)
	}
	if row[0] != "q" || row[2] != "pods: 1/3, requests.cpu: 0/1" || row[3] != "limits.cpu: 500m/2" {
		t.Errorf("row = %q", row)
	}
}
