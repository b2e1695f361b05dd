package registry

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// rsResource describes the apps/v1 replicasets resource.
func rsResource() *Resource {
	return &Resource{
		Group: "apps", Version: "v1", Resource: "replicasets", Kind: "ReplicaSet", SingularName: "replicaset",
		ShortNames: []string{"rs"}, Categories: []string{"all"},
		Namespaced: true, Subresources: []string{"status", "scale"}, HasStatus: true,
		New:     func() runtime.Object { return &appsv1.ReplicaSet{} },
		NewList: func() runtime.Object { return &appsv1.ReplicaSetList{} },
		Default: func(obj runtime.Object) { rsDefault(obj.(*appsv1.ReplicaSet)) },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*appsv1.ReplicaSet).Status = appsv1.ReplicaSetStatus{}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return rsValidateSpec(&obj.(*appsv1.ReplicaSet).Spec, field.NewPath("spec"))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			rs, o := obj.(*appsv1.ReplicaSet), old.(*appsv1.ReplicaSet)
			return append(rsValidateSpec(&rs.Spec, field.NewPath("spec")), appsValidateImmutableSelector(rs.Spec.Selector, o.Spec.Selector)...)
		},
		ValidateStatusUpdate: func(obj, _ runtime.Object) field.ErrorList {
			return rsValidateStatus(&obj.(*appsv1.ReplicaSet).Status, field.NewPath("status"))
		},
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"status.replicas": strconv.Itoa(int(obj.(*appsv1.ReplicaSet).Status.Replicas))}
		},
		Table: rsTable(),
		Scale: &Scale{
			Get: func(obj runtime.Object) (int32, int32, string) {
				rs := obj.(*appsv1.ReplicaSet)
				return replicasOr1(rs.Spec.Replicas), rs.Status.Replicas, appsSelectorString(rs.Spec.Selector)
			},
			Set: func(obj runtime.Object, n int32) { obj.(*appsv1.ReplicaSet).Spec.Replicas = &n },
		},
	}
}

// rsDefault is Kubernetes' SetDefaults_ReplicaSet (apps/v1) plus the pod template defaults.
func rsDefault(rs *appsv1.ReplicaSet) {
	if rs.Spec.Replicas == nil {
		rs.Spec.Replicas = appsInt32(1)
	}
	podSpecDefault(&rs.Spec.Template.Spec)
}

// rsValidateSpec is Kubernetes' ValidateReplicaSetSpec.
func rsValidateSpec(spec *appsv1.ReplicaSetSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.Replicas != nil {
		errs = append(errs, appsNonNegative(p, appsCount{"replicas", int64(*spec.Replicas)})...)
	}
	errs = append(errs, appsNonNegative(p, appsCount{"minReadySeconds", int64(spec.MinReadySeconds)})...)
	// "for deployment" is Kubernetes' own message for replica sets as well.
	sel, selErrs := appsValidateSelector(spec.Selector, "deployment", p.Child("selector"))
	errs = append(errs, selErrs...)
	if sel != nil {
		errs = append(errs, appsValidateTemplate(&spec.Template, sel, "ReplicaSet", p.Child("template"))...)
	}
	return errs
}

// rsValidateStatus is Kubernetes' ValidateReplicaSetStatus.
func rsValidateStatus(st *appsv1.ReplicaSetStatus, p *field.Path) field.ErrorList {
	errs := appsNonNegative(p,
		appsCount{"replicas", int64(st.Replicas)}, appsCount{"fullyLabeledReplicas", int64(st.FullyLabeledReplicas)},
		appsCount{"readyReplicas", int64(st.ReadyReplicas)}, appsCount{"availableReplicas", int64(st.AvailableReplicas)},
		appsCount{"observedGeneration", st.ObservedGeneration})
	errs = append(errs, appsNotAbove(p, st.Replicas, "status.replicas",
		appsCount{"fullyLabeledReplicas", int64(st.FullyLabeledReplicas)}, appsCount{"readyReplicas", int64(st.ReadyReplicas)},
		appsCount{"availableReplicas", int64(st.AvailableReplicas)})...)
	return append(errs, appsNotAbove(p, st.ReadyReplicas, "readyReplicas", appsCount{"availableReplicas", int64(st.AvailableReplicas)})...)
}
