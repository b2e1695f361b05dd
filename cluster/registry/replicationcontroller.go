package registry

import (
	"maps"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// rcResource describes the replicationcontrollers resource.
func rcResource() *Resource {
	return &Resource{
		Version: "v1", Resource: "replicationcontrollers", Kind: "ReplicationController",
		SingularName: "replicationcontroller", ShortNames: []string{"rc"}, Categories: []string{"all"},
		Namespaced: true, Subresources: []string{"status", "scale"}, HasStatus: true,
		New:     func() runtime.Object { return &corev1.ReplicationController{} },
		NewList: func() runtime.Object { return &corev1.ReplicationControllerList{} },
		Default: func(obj runtime.Object) { rcDefault(obj.(*corev1.ReplicationController)) },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*corev1.ReplicationController).Status = corev1.ReplicationControllerStatus{}
		},
		Validate:       func(obj runtime.Object) field.ErrorList { return rcValidate(obj.(*corev1.ReplicationController)) },
		ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList { return rcValidate(obj.(*corev1.ReplicationController)) },
		ValidateStatusUpdate: func(obj, _ runtime.Object) field.ErrorList {
			return rcValidateStatus(obj.(*corev1.ReplicationController))
		},
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"status.replicas": strconv.Itoa(int(obj.(*corev1.ReplicationController).Status.Replicas))}
		},
		Table: rcTable(),
		Scale: &Scale{
			Get: func(obj runtime.Object) (int32, int32, string) {
				rc := obj.(*corev1.ReplicationController)
				return replicasOr1(rc.Spec.Replicas), rc.Status.Replicas, labels.SelectorFromSet(rc.Spec.Selector).String()
			},
			Set: func(obj runtime.Object, n int32) { obj.(*corev1.ReplicationController).Spec.Replicas = &n },
		},
	}
}

// rcDefault is Kubernetes' SetDefaults_ReplicationController: selector and labels from the
// template labels, one replica, and the pod template defaults.
func rcDefault(rc *corev1.ReplicationController) {
	if t := rc.Spec.Template; t != nil {
		if t.Labels != nil {
			if len(rc.Spec.Selector) == 0 {
				rc.Spec.Selector = maps.Clone(t.Labels)
			}
			if len(rc.Labels) == 0 {
				rc.Labels = maps.Clone(t.Labels)
			}
		}
		podSpecDefault(&t.Spec)
	}
	if rc.Spec.Replicas == nil {
		one := int32(1)
		rc.Spec.Replicas = &one
	}
}

// rcValidate is Kubernetes' ValidateReplicationControllerSpec (RC specs are mutable, so an
// update is checked the same way).
func rcValidate(rc *corev1.ReplicationController) field.ErrorList {
	spec := &rc.Spec
	p := field.NewPath("spec")
	errs := apivalidation.ValidateNonnegativeField(int64(spec.MinReadySeconds), p.Child("minReadySeconds"))
	if labels.Set(spec.Selector).AsSelector().Empty() {
		errs = append(errs, field.Required(p.Child("selector"), ""))
	}
	if spec.Replicas != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*spec.Replicas), p.Child("replicas"))...)
	}
	return append(errs, rcValidateTemplate(spec.Template, spec.Selector, p.Child("template"))...)
}

// rcValidateTemplate is Kubernetes' ValidatePodTemplateSpecForRC.
func rcValidateTemplate(t *corev1.PodTemplateSpec, selector map[string]string, p *field.Path) field.ErrorList {
	if t == nil {
		return field.ErrorList{field.Required(p, "")}
	}
	var errs field.ErrorList
	if sel := labels.Set(selector).AsSelector(); !sel.Empty() && !sel.Matches(labels.Set(t.Labels)) {
		errs = append(errs, field.Invalid(p.Child("metadata", "labels"), t.Labels, "`selector` does not match template `labels`"))
	}
	errs = append(errs, podTemplateValidate(t, p)...)
	if t.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(p.Child("spec", "restartPolicy"), t.Spec.RestartPolicy,
			[]corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Invalid(p.Child("spec", "activeDeadlineSeconds"), t.Spec.ActiveDeadlineSeconds,
			"activeDeadlineSeconds in ReplicationController is not Supported"))
	}
	return errs
}

// rcValidateStatus is Kubernetes' ValidateReplicationControllerStatus.
func rcValidateStatus(rc *corev1.ReplicationController) field.ErrorList {
	st := &rc.Status
	p := field.NewPath("status")
	var errs field.ErrorList
	for _, f := range []struct {
		name  string
		value int64
	}{
		{"replicas", int64(st.Replicas)}, {"fullyLabeledReplicas", int64(st.FullyLabeledReplicas)},
		{"readyReplicas", int64(st.ReadyReplicas)}, {"availableReplicas", int64(st.AvailableReplicas)},
		{"observedGeneration", st.ObservedGeneration},
	} {
		errs = append(errs, apivalidation.ValidateNonnegativeField(f.value, p.Child(f.name))...)
	}
	const msg = "cannot be greater than status.replicas"
	if st.FullyLabeledReplicas > st.Replicas {
		errs = append(errs, field.Invalid(p.Child("fullyLabeledReplicas"), st.FullyLabeledReplicas, msg))
	}
	if st.ReadyReplicas > st.Replicas {
		errs = append(errs, field.Invalid(p.Child("readyReplicas"), st.ReadyReplicas, msg))
	}
	if st.AvailableReplicas > st.Replicas {
		errs = append(errs, field.Invalid(p.Child("availableReplicas"), st.AvailableReplicas, msg))
	}
	if st.AvailableReplicas > st.ReadyReplicas {
		errs = append(errs, field.Invalid(p.Child("availableReplicas"), st.AvailableReplicas, "cannot be greater than readyReplicas"))
	}
	return errs
}
