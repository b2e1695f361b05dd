package registry

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Helpers shared by the apps/v1 kinds (and policy/v1's PodDisruptionBudget): Kubernetes'
// pkg/apis/apps/validation over v1 types.

func appsInt32(v int32) *int32 { return &v }

// appsValidateSelector is the selector part of ValidateDeploymentSpec, ValidateReplicaSetSpec
// and ValidateStatefulSetSpec: required, well formed and not empty. kind names the resource in
// the "empty selector is invalid for …" message (Kubernetes says "deployment" for replica sets
// too). It returns the parsed selector, or nil when it cannot be parsed.
func appsValidateSelector(sel *metav1.LabelSelector, kind string, p *field.Path) (labels.Selector, field.ErrorList) {
	var errs field.ErrorList
	if sel == nil {
		errs = append(errs, field.Required(p, ""))
	} else {
		errs = append(errs, metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, p)...)
		if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
			errs = append(errs, field.Invalid(p, sel, "empty selector is invalid for "+kind))
		}
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, append(errs, field.Invalid(p, sel, "invalid label selector"))
	}
	return s, errs
}

// appsValidateTemplate is Kubernetes' ValidatePodTemplateSpecForReplicaSet (kind names the
// resource in the activeDeadlineSeconds message): labels matching the selector, a valid pod
// template, restartPolicy Always and no activeDeadlineSeconds.
func appsValidateTemplate(t *corev1.PodTemplateSpec, sel labels.Selector, kind string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if sel != nil && !sel.Empty() && !sel.Matches(labels.Set(t.Labels)) {
		errs = append(errs, field.Invalid(p.Child("metadata", "labels"), t.Labels, "`selector` does not match template `labels`"))
	}
	errs = append(errs, podTemplateValidate(t, p)...)
	errs = append(errs, appsValidateRestart(t, kind, p)...)
	return errs
}

// appsValidateRestart checks restartPolicy Always and no activeDeadlineSeconds.
func appsValidateRestart(t *corev1.PodTemplateSpec, kind string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(p.Child("spec", "restartPolicy"), t.Spec.RestartPolicy,
			[]string{string(corev1.RestartPolicyAlways)}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(p.Child("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in "+kind+" is not Supported"))
	}
	return errs
}

// appsCount is one named counter for appsNonNegative.
type appsCount struct {
	name  string
	value int64
}

// appsNonNegative validates, in order, that counters under p are not negative.
func appsNonNegative(p *field.Path, counts ...appsCount) field.ErrorList {
	var errs field.ErrorList
	for _, c := range counts {
		errs = append(errs, apivalidation.ValidateNonnegativeField(c.value, p.Child(c.name))...)
	}
	return errs
}

// appsNotAbove reports each counter greater than limit as "cannot be greater than <what>".
func appsNotAbove(p *field.Path, limit int32, what string, counts ...appsCount) field.ErrorList {
	var errs field.ErrorList
	for _, c := range counts {
		if c.value > int64(limit) {
			errs = append(errs, field.Invalid(p.Child(c.name), c.value, "cannot be greater than "+what))
		}
	}
	return errs
}

// appsIntOrPercent returns *v, or the integer 0 when v is nil (the internal types are not
// pointers, so Kubernetes validates a missing value as 0).
func appsIntOrPercent(v *intstr.IntOrString) intstr.IntOrString {
	if v == nil {
		return intstr.FromInt32(0)
	}
	return *v
}

// appsValidatePositiveIntOrPercent is Kubernetes' ValidatePositiveIntOrPercent.
func appsValidatePositiveIntOrPercent(v intstr.IntOrString, p *field.Path) field.ErrorList {
	switch v.Type {
	case intstr.String:
		var errs field.ErrorList
		for _, msg := range validation.IsValidPercent(v.StrVal) {
			errs = append(errs, field.Invalid(p, v, msg))
		}
		return errs
	case intstr.Int:
		return apivalidation.ValidateNonnegativeField(int64(v.IntValue()), p)
	}
	return field.ErrorList{field.Invalid(p, v, "must be an integer or percentage (e.g '5%')")}
}

// appsPercent is Kubernetes' getPercentValue.
func appsPercent(v intstr.IntOrString) (int, bool) {
	if v.Type != intstr.String || len(validation.IsValidPercent(v.StrVal)) != 0 {
		return 0, false
	}
	n, _ := strconv.Atoi(v.StrVal[:len(v.StrVal)-1])
	return n, true
}

// appsIntOrPercentValue is Kubernetes' getIntOrPercentValue.
func appsIntOrPercentValue(v intstr.IntOrString) int {
	if n, ok := appsPercent(v); ok {
		return n
	}
	return v.IntValue()
}

// appsNotMoreThan100Percent is Kubernetes' IsNotMoreThan100Percent.
func appsNotMoreThan100Percent(v intstr.IntOrString, p *field.Path) field.ErrorList {
	if n, ok := appsPercent(v); ok && n > 100 {
		return field.ErrorList{field.Invalid(p, v, "must not be greater than 100%")}
	}
	return nil
}

// appsValidateRevisionHistory checks revisionHistoryLimit (zero is valid).
func appsValidateRevisionHistory(limit *int32, p *field.Path) field.ErrorList {
	if limit == nil {
		return nil
	}
	return apivalidation.ValidateNonnegativeField(int64(*limit), p)
}

// appsValidateImmutableSelector is the apps/v1 strategies' check that spec.selector never changes.
func appsValidateImmutableSelector(sel, old *metav1.LabelSelector) field.ErrorList {
	return apivalidation.ValidateImmutableField(sel, old, field.NewPath("spec", "selector"))
}

// appsValidateCollisionCount is the status update check that collisionCount never decreases.
func appsValidateCollisionCount(cur, old *int32, p *field.Path) field.ErrorList {
	if cur != nil && old != nil && *cur < *old {
		return field.ErrorList{field.Invalid(p, cur, "cannot be decremented")}
	}
	return nil
}

// appsSelectorString renders a label selector as Kubernetes' printers and Scale's
// status.selector do ("<invalid>" when it does not parse).
func appsSelectorString(sel *metav1.LabelSelector) string {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return "<invalid>"
	}
	return s.String()
}
