package registry

import (
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// pdbResource describes the policy/v1 poddisruptionbudgets resource.
func pdbResource() *Resource {
	return &Resource{
		Group: "policy", Version: "v1", Resource: "poddisruptionbudgets", Kind: "PodDisruptionBudget",
		SingularName: "poddisruptionbudget", ShortNames: []string{"pdb"},
		Namespaced: true, Subresources: []string{"status"}, HasStatus: true,
		New:     func() runtime.Object { return &policyv1.PodDisruptionBudget{} },
		NewList: func() runtime.Object { return &policyv1.PodDisruptionBudgetList{} },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*policyv1.PodDisruptionBudget).Status = policyv1.PodDisruptionBudgetStatus{}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return pdbValidateSpec(&obj.(*policyv1.PodDisruptionBudget).Spec, field.NewPath("spec"))
		},
		ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList {
			return pdbValidateSpec(&obj.(*policyv1.PodDisruptionBudget).Spec, field.NewPath("spec"))
		},
		ValidateStatusUpdate: func(obj, _ runtime.Object) field.ErrorList {
			return pdbValidateStatus(&obj.(*policyv1.PodDisruptionBudget).Status, field.NewPath("status"))
		},
		Table: pdbTable(),
	}
}

// pdbValidateSpec is Kubernetes' ValidatePodDisruptionBudgetSpec.
func pdbValidateSpec(spec *policyv1.PodDisruptionBudgetSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.MinAvailable != nil && spec.MaxUnavailable != nil {
		errs = append(errs, field.Invalid(p, spec, "minAvailable and maxUnavailable cannot be both set"))
	}
	if v := spec.MinAvailable; v != nil {
		errs = append(errs, appsValidatePositiveIntOrPercent(*v, p.Child("minAvailable"))...)
		errs = append(errs, appsNotMoreThan100Percent(*v, p.Child("minAvailable"))...)
	}
	if v := spec.MaxUnavailable; v != nil {
		errs = append(errs, appsValidatePositiveIntOrPercent(*v, p.Child("maxUnavailable"))...)
		errs = append(errs, appsNotMoreThan100Percent(*v, p.Child("maxUnavailable"))...)
	}
	errs = append(errs, metav1validation.ValidateLabelSelector(spec.Selector, metav1validation.LabelSelectorValidationOptions{}, p.Child("selector"))...)
	if u := spec.UnhealthyPodEvictionPolicy; u != nil && *u != policyv1.AlwaysAllow && *u != policyv1.IfHealthyBudget {
		errs = append(errs, field.NotSupported(p.Child("unhealthyPodEvictionPolicy"), *u,
			[]string{string(policyv1.AlwaysAllow), string(policyv1.IfHealthyBudget)}))
	}
	return errs
}

// pdbValidateStatus is Kubernetes' ValidatePodDisruptionBudgetStatusUpdate (policy/v1).
func pdbValidateStatus(st *policyv1.PodDisruptionBudgetStatus, p *field.Path) field.ErrorList {
	errs := metav1validation.ValidateConditions(st.Conditions, p.Child("conditions"))
	return append(errs, appsNonNegative(p,
		appsCount{"disruptionsAllowed", int64(st.DisruptionsAllowed)}, appsCount{"currentHealthy", int64(st.CurrentHealthy)},
		appsCount{"desiredHealthy", int64(st.DesiredHealthy)}, appsCount{"expectedPods", int64(st.ExpectedPods)})...)
}

// pdbTable prints disruption budgets as Kubernetes' printPodDisruptionBudget does.
func pdbTable() *Table {
	spec, status := policyv1.PodDisruptionBudgetSpec{}.SwaggerDoc(), policyv1.PodDisruptionBudgetStatus{}.SwaggerDoc()
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("Min Available", "string", spec["minAvailable"], 0),
			column("Max Unavailable", "string", spec["maxUnavailable"], 0),
			column("Allowed Disruptions", "integer", status["disruptionsAllowed"], 0),
			ageColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			pdb := obj.(*policyv1.PodDisruptionBudget)
			minAvailable, maxUnavailable := "N/A", "N/A"
			if pdb.Spec.MinAvailable != nil {
				minAvailable = pdb.Spec.MinAvailable.String()
			}
			if pdb.Spec.MaxUnavailable != nil {
				maxUnavailable = pdb.Spec.MaxUnavailable.String()
			}
			return []interface{}{pdb.Name, minAvailable, maxUnavailable, int64(pdb.Status.DisruptionsAllowed),
				translateTimestampSince(pdb.CreationTimestamp)}, nil
		},
	}
}
