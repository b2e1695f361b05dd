package registry

import (
	appsv1 "k8s.io/api/apps/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// deploymentResource describes the apps/v1 deployments resource.
func deploymentResource() *Resource {
	return &Resource{
		Group: "apps", Version: "v1", Resource: "deployments", Kind: "Deployment", SingularName: "deployment",
		ShortNames: []string{"deploy"}, Categories: []string{"all"},
		Namespaced: true, Subresources: []string{"status", "scale"}, HasStatus: true, StatusKeepsLabels: true,
		New:     func() runtime.Object { return &appsv1.Deployment{} },
		NewList: func() runtime.Object { return &appsv1.DeploymentList{} },
		Default: func(obj runtime.Object) { deploymentDefault(obj.(*appsv1.Deployment)) },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*appsv1.Deployment).Status = appsv1.DeploymentStatus{}
		},
		PrepareForUpdate: func(obj, old runtime.Object) {
			d, o := obj.(*appsv1.Deployment), old.(*appsv1.Deployment)
			// Annotations are copied to the replica sets, so their changes bump the
			// generation as spec changes do (the server bumps for the spec).
			if !apiequality.Semantic.DeepEqual(d.Annotations, o.Annotations) {
				d.Generation = o.Generation + 1
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return deploymentValidateSpec(&obj.(*appsv1.Deployment).Spec, field.NewPath("spec"))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			d, o := obj.(*appsv1.Deployment), old.(*appsv1.Deployment)
			errs := deploymentValidateSpec(&d.Spec, field.NewPath("spec"))
			return append(errs, appsValidateImmutableSelector(d.Spec.Selector, o.Spec.Selector)...)
		},
		ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList {
			d, o := obj.(*appsv1.Deployment), old.(*appsv1.Deployment)
			errs := deploymentValidateStatus(&d.Status, field.NewPath("status"))
			return append(errs, appsValidateCollisionCount(d.Status.CollisionCount, o.Status.CollisionCount, field.NewPath("status", "collisionCount"))...)
		},
		Table: deploymentTable(),
		Scale: &Scale{
			Get: func(obj runtime.Object) (int32, int32, string) {
				d := obj.(*appsv1.Deployment)
				return replicasOr1(d.Spec.Replicas), d.Status.Replicas, appsSelectorString(d.Spec.Selector)
			},
			Set: func(obj runtime.Object, n int32) { obj.(*appsv1.Deployment).Spec.Replicas = &n },
		},
	}
}

// replicasOr1 is *p, or the default 1 when p is nil.
func replicasOr1(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// deploymentDefault is Kubernetes' SetDefaults_Deployment (apps/v1) plus the pod template
// defaults.
func deploymentDefault(d *appsv1.Deployment) {
	spec := &d.Spec
	if spec.Replicas == nil {
		spec.Replicas = appsInt32(1)
	}
	st := &spec.Strategy
	if st.Type == "" {
		st.Type = appsv1.RollingUpdateDeploymentStrategyType
	}
	if st.Type == appsv1.RollingUpdateDeploymentStrategyType {
		if st.RollingUpdate == nil {
			st.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		if st.RollingUpdate.MaxUnavailable == nil {
			v := intstr.FromString("25%")
			st.RollingUpdate.MaxUnavailable = &v
		}
		if st.RollingUpdate.MaxSurge == nil {
			v := intstr.FromString("25%")
			st.RollingUpdate.MaxSurge = &v
		}
	}
	if spec.RevisionHistoryLimit == nil {
		spec.RevisionHistoryLimit = appsInt32(10)
	}
	if spec.ProgressDeadlineSeconds == nil {
		spec.ProgressDeadlineSeconds = appsInt32(600)
	}
	podSpecDefault(&spec.Template.Spec)
}

// deploymentValidateSpec is Kubernetes' ValidateDeploymentSpec.
func deploymentValidateSpec(spec *appsv1.DeploymentSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.Replicas != nil {
		errs = append(errs, appsNonNegative(p, appsCount{"replicas", int64(*spec.Replicas)})...)
	}
	sel, selErrs := appsValidateSelector(spec.Selector, "deployment", p.Child("selector"))
	errs = append(errs, selErrs...)
	if sel != nil {
		errs = append(errs, appsValidateTemplate(&spec.Template, sel, "ReplicaSet", p.Child("template"))...)
	}
	errs = append(errs, deploymentValidateStrategy(&spec.Strategy, p.Child("strategy"))...)
	errs = append(errs, appsNonNegative(p, appsCount{"minReadySeconds", int64(spec.MinReadySeconds)})...)
	errs = append(errs, appsValidateRevisionHistory(spec.RevisionHistoryLimit, p.Child("revisionHistoryLimit"))...)
	if pd := spec.ProgressDeadlineSeconds; pd != nil {
		errs = append(errs, appsNonNegative(p, appsCount{"progressDeadlineSeconds", int64(*pd)})...)
		if *pd <= spec.MinReadySeconds {
			errs = append(errs, field.Invalid(p.Child("progressDeadlineSeconds"), *pd, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

// deploymentValidateStrategy is Kubernetes' ValidateDeploymentStrategy.
func deploymentValidateStrategy(st *appsv1.DeploymentStrategy, p *field.Path) field.ErrorList {
	switch st.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if st.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(p.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")}
		}
	case appsv1.RollingUpdateDeploymentStrategyType:
		if st.RollingUpdate == nil {
			return field.ErrorList{field.Required(p.Child("rollingUpdate"), "this should be defaulted and never be nil")}
		}
		return deploymentValidateRollingUpdate(st.RollingUpdate, p.Child("rollingUpdate"))
	default:
		return field.ErrorList{field.NotSupported(p, st, []string{string(appsv1.RecreateDeploymentStrategyType), string(appsv1.RollingUpdateDeploymentStrategyType)})}
	}
	return nil
}

// deploymentValidateRollingUpdate is Kubernetes' ValidateRollingUpdateDeployment.
func deploymentValidateRollingUpdate(ru *appsv1.RollingUpdateDeployment, p *field.Path) field.ErrorList {
	unavailable, surge := appsIntOrPercent(ru.MaxUnavailable), appsIntOrPercent(ru.MaxSurge)
	errs := appsValidatePositiveIntOrPercent(unavailable, p.Child("maxUnavailable"))
	errs = append(errs, appsValidatePositiveIntOrPercent(surge, p.Child("maxSurge"))...)
	if appsIntOrPercentValue(unavailable) == 0 && appsIntOrPercentValue(surge) == 0 {
		errs = append(errs, field.Invalid(p.Child("maxUnavailable"), unavailable, "may not be 0 when `maxSurge` is 0"))
	}
	return append(errs, appsNotMoreThan100Percent(unavailable, p.Child("maxUnavailable"))...)
}

// deploymentValidateStatus is Kubernetes' ValidateDeploymentStatus.
func deploymentValidateStatus(st *appsv1.DeploymentStatus, p *field.Path) field.ErrorList {
	errs := appsNonNegative(p,
		appsCount{"observedGeneration", st.ObservedGeneration}, appsCount{"replicas", int64(st.Replicas)},
		appsCount{"updatedReplicas", int64(st.UpdatedReplicas)}, appsCount{"readyReplicas", int64(st.ReadyReplicas)},
		appsCount{"availableReplicas", int64(st.AvailableReplicas)}, appsCount{"unavailableReplicas", int64(st.UnavailableReplicas)})
	if st.CollisionCount != nil {
		errs = append(errs, appsNonNegative(p, appsCount{"collisionCount", int64(*st.CollisionCount)})...)
	}
	errs = append(errs, appsNotAbove(p, st.Replicas, "status.replicas",
		appsCount{"updatedReplicas", int64(st.UpdatedReplicas)}, appsCount{"readyReplicas", int64(st.ReadyReplicas)},
		appsCount{"availableReplicas", int64(st.AvailableReplicas)})...)
	return append(errs, appsNotAbove(p, st.ReadyReplicas, "readyReplicas", appsCount{"availableReplicas", int64(st.AvailableReplicas)})...)
}
