package registry

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// DaemonSetTemplateGenerationAnnotation carries the deprecated spec.templateGeneration of
// apps/v1 daemon sets: 1 on create, one more on each template change (Kubernetes'
// "deprecated.daemonset.template.generation").
const DaemonSetTemplateGenerationAnnotation = "deprecated.daemonset.template.generation"

// dsResource describes the apps/v1 daemonsets resource.
func dsResource() *Resource {
	return &Resource{
		Group: "apps", Version: "v1", Resource: "daemonsets", Kind: "DaemonSet", SingularName: "daemonset",
		ShortNames: []string{"ds"}, Categories: []string{"all"},
		Namespaced: true, Subresources: []string{"status"}, HasStatus: true,
		New:     func() runtime.Object { return &appsv1.DaemonSet{} },
		NewList: func() runtime.Object { return &appsv1.DaemonSetList{} },
		Default: func(obj runtime.Object) { dsDefault(obj.(*appsv1.DaemonSet)) },
		PrepareForCreate: func(obj runtime.Object) {
			ds := obj.(*appsv1.DaemonSet)
			ds.Status = appsv1.DaemonSetStatus{}
			if n, _ := strconv.ParseInt(ds.Annotations[DaemonSetTemplateGenerationAnnotation], 10, 64); n < 1 {
				metav1.SetMetaDataAnnotation(&ds.ObjectMeta, DaemonSetTemplateGenerationAnnotation, "1")
			}
		},
		PrepareForUpdate: func(obj, old runtime.Object) { dsPrepareForUpdate(obj.(*appsv1.DaemonSet), old.(*appsv1.DaemonSet)) },
		Validate: func(obj runtime.Object) field.ErrorList {
			return dsValidateSpec(&obj.(*appsv1.DaemonSet).Spec, field.NewPath("spec"))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			ds, o := obj.(*appsv1.DaemonSet), old.(*appsv1.DaemonSet)
			return append(dsValidateSpec(&ds.Spec, field.NewPath("spec")), appsValidateImmutableSelector(ds.Spec.Selector, o.Spec.Selector)...)
		},
		ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList {
			ds, o := obj.(*appsv1.DaemonSet), old.(*appsv1.DaemonSet)
			errs := dsValidateStatus(&ds.Status, field.NewPath("status"))
			return append(errs, appsValidateCollisionCount(ds.Status.CollisionCount, o.Status.CollisionCount, field.NewPath("status", "collisionCount"))...)
		},
		Table: dsTable(),
	}
}

// dsDefault is Kubernetes' SetDefaults_DaemonSet (apps/v1) plus the pod template defaults.
func dsDefault(ds *appsv1.DaemonSet) {
	st := &ds.Spec.UpdateStrategy
	if st.Type == "" {
		st.Type = appsv1.RollingUpdateDaemonSetStrategyType
	}
	if st.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		if st.RollingUpdate == nil {
			st.RollingUpdate = &appsv1.RollingUpdateDaemonSet{}
		}
		if st.RollingUpdate.MaxUnavailable == nil {
			v := intstr.FromInt32(1)
			st.RollingUpdate.MaxUnavailable = &v
		}
		if st.RollingUpdate.MaxSurge == nil {
			v := intstr.FromInt32(0)
			st.RollingUpdate.MaxSurge = &v
		}
	}
	if ds.Spec.RevisionHistoryLimit == nil {
		ds.Spec.RevisionHistoryLimit = appsInt32(10)
	}
	podSpecDefault(&ds.Spec.Template.Spec)
}

// dsPrepareForUpdate keeps the template generation (a client may not set it) and adds one
// when the template changed, as Kubernetes' daemonSetStrategy.PrepareForUpdate does.
func dsPrepareForUpdate(ds, old *appsv1.DaemonSet) {
	gen, hasGen := old.Annotations[DaemonSetTemplateGenerationAnnotation]
	if !apiequality.Semantic.DeepEqual(ds.Spec.Template, old.Spec.Template) {
		n, _ := strconv.ParseInt(gen, 10, 64)
		gen, hasGen = strconv.FormatInt(n+1, 10), true
	}
	if hasGen {
		metav1.SetMetaDataAnnotation(&ds.ObjectMeta, DaemonSetTemplateGenerationAnnotation, gen)
	} else {
		delete(ds.Annotations, DaemonSetTemplateGenerationAnnotation)
	}
}

// dsValidateSpec is Kubernetes' ValidateDaemonSetSpec.
func dsValidateSpec(spec *appsv1.DaemonSetSpec, p *field.Path) field.ErrorList {
	errs := metav1validation.ValidateLabelSelector(spec.Selector, metav1validation.LabelSelectorValidationOptions{}, p.Child("selector"))
	if sel, err := metav1.LabelSelectorAsSelector(spec.Selector); err == nil && !sel.Matches(labels.Set(spec.Template.Labels)) {
		errs = append(errs, field.Invalid(p.Child("template", "metadata", "labels"), spec.Template.Labels, "`selector` does not match template `labels`"))
	}
	if spec.Selector != nil && len(spec.Selector.MatchLabels)+len(spec.Selector.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(p.Child("selector"), spec.Selector, "empty selector is invalid for daemonset"))
	}
	tp := p.Child("template")
	errs = append(errs, podTemplateValidate(&spec.Template, tp)...)
	if spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(tp.Child("spec", "restartPolicy"), spec.Template.Spec.RestartPolicy, []string{string(corev1.RestartPolicyAlways)}))
	}
	if ads := spec.Template.Spec.ActiveDeadlineSeconds; ads != nil {
		errs = append(errs, field.Invalid(tp.Child("spec", "activeDeadlineSeconds"), *ads, "activeDeadlineSeconds in DaemonSet is not Supported"))
	}
	errs = append(errs, appsNonNegative(p, appsCount{"minReadySeconds", int64(spec.MinReadySeconds)})...)
	errs = append(errs, dsValidateUpdateStrategy(&spec.UpdateStrategy, p.Child("updateStrategy"))...)
	return append(errs, appsValidateRevisionHistory(spec.RevisionHistoryLimit, p.Child("revisionHistoryLimit"))...)
}

// dsValidateUpdateStrategy is Kubernetes' ValidateDaemonSetUpdateStrategy and
// ValidateRollingUpdateDaemonSet.
func dsValidateUpdateStrategy(st *appsv1.DaemonSetUpdateStrategy, p *field.Path) field.ErrorList {
	switch st.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
		return nil
	case appsv1.RollingUpdateDaemonSetStrategyType:
	default:
		return field.ErrorList{field.NotSupported(p, st, []string{string(appsv1.RollingUpdateDaemonSetStrategyType), string(appsv1.OnDeleteDaemonSetStrategyType)})}
	}
	if st.RollingUpdate == nil {
		return field.ErrorList{field.Required(p.Child("rollingUpdate"), "")}
	}
	rp := p.Child("rollingUpdate")
	unavailable, surge := appsIntOrPercent(st.RollingUpdate.MaxUnavailable), appsIntOrPercent(st.RollingUpdate.MaxSurge)
	errs := appsValidatePositiveIntOrPercent(unavailable, rp.Child("maxUnavailable"))
	errs = append(errs, appsValidatePositiveIntOrPercent(surge, rp.Child("maxSurge"))...)
	errs = append(errs, appsNotMoreThan100Percent(unavailable, rp.Child("maxUnavailable"))...)
	errs = append(errs, appsNotMoreThan100Percent(surge, rp.Child("maxSurge"))...)
	hasUnavailable, hasSurge := appsIntOrPercentValue(unavailable) != 0, appsIntOrPercentValue(surge) != 0
	switch {
	case hasUnavailable && hasSurge:
		errs = append(errs, field.Invalid(rp.Child("maxSurge"), surge, "may not be set when maxUnavailable is non-zero"))
	case !hasUnavailable && !hasSurge:
		errs = append(errs, field.Required(rp.Child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
	}
	return errs
}

// dsValidateStatus is Kubernetes' ValidateDaemonSetStatus.
func dsValidateStatus(st *appsv1.DaemonSetStatus, p *field.Path) field.ErrorList {
	errs := appsNonNegative(p,
		appsCount{"currentNumberScheduled", int64(st.CurrentNumberScheduled)}, appsCount{"numberMisscheduled", int64(st.NumberMisscheduled)},
		appsCount{"desiredNumberScheduled", int64(st.DesiredNumberScheduled)}, appsCount{"numberReady", int64(st.NumberReady)},
		appsCount{"observedGeneration", st.ObservedGeneration}, appsCount{"updatedNumberScheduled", int64(st.UpdatedNumberScheduled)},
		appsCount{"numberAvailable", int64(st.NumberAvailable)}, appsCount{"numberUnavailable", int64(st.NumberUnavailable)})
	if st.CollisionCount != nil {
		errs = append(errs, appsNonNegative(p, appsCount{"collisionCount", int64(*st.CollisionCount)})...)
	}
	return errs
}
