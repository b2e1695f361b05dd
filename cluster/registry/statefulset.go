package registry

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// stsResource describes the apps/v1 statefulsets resource.
func stsResource() *Resource {
	return &Resource{
		Group: "apps", Version: "v1", Resource: "statefulsets", Kind: "StatefulSet", SingularName: "statefulset",
		ShortNames: []string{"sts"}, Categories: []string{"all"},
		Namespaced: true, Subresources: []string{"status", "scale"}, HasStatus: true,
		// Kubernetes' ValidateStatefulSetName: a DNS label, since the pods' hostnames are
		// "<name>-<ordinal>" (it once allowed subdomains, which could not make pods).
		NameValidation: apivalidation.NameIsDNSLabel,
		New:            func() runtime.Object { return &appsv1.StatefulSet{} },
		NewList:        func() runtime.Object { return &appsv1.StatefulSetList{} },
		Default:        func(obj runtime.Object) { stsDefault(obj.(*appsv1.StatefulSet)) },
		PrepareForCreate: func(obj runtime.Object) {
			sts := obj.(*appsv1.StatefulSet)
			sts.Status = appsv1.StatefulSetStatus{}
			stsDropDisabledFields(sts, nil)
		},
		PrepareForUpdate: func(obj, old runtime.Object) {
			stsDropDisabledFields(obj.(*appsv1.StatefulSet), old.(*appsv1.StatefulSet))
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return stsValidateSpec(&obj.(*appsv1.StatefulSet).Spec, field.NewPath("spec"))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return stsValidateUpdate(obj.(*appsv1.StatefulSet), old.(*appsv1.StatefulSet))
		},
		ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList {
			s, o := obj.(*appsv1.StatefulSet), old.(*appsv1.StatefulSet)
			errs := stsValidateStatus(&s.Status, field.NewPath("status"))
			return append(errs, appsValidateCollisionCount(s.Status.CollisionCount, o.Status.CollisionCount, field.NewPath("status", "collisionCount"))...)
		},
		Table: stsTable(),
		Scale: &Scale{
			Get: func(obj runtime.Object) (int32, int32, string) {
				s := obj.(*appsv1.StatefulSet)
				return replicasOr1(s.Spec.Replicas), s.Status.Replicas, appsSelectorString(s.Spec.Selector)
			},
			Set: func(obj runtime.Object, n int32) { obj.(*appsv1.StatefulSet).Spec.Replicas = &n },
		},
	}
}

// stsDefault is Kubernetes' SetDefaults_StatefulSet (apps/v1, v1.32 feature gates: the PVC
// retention policy on, maxUnavailable off), the claim templates' PVC defaults and the pod
// template defaults.
func stsDefault(s *appsv1.StatefulSet) {
	spec := &s.Spec
	if spec.PodManagementPolicy == "" {
		spec.PodManagementPolicy = appsv1.OrderedReadyPodManagement
	}
	if spec.UpdateStrategy.Type == "" {
		spec.UpdateStrategy.Type = appsv1.RollingUpdateStatefulSetStrategyType
		if spec.UpdateStrategy.RollingUpdate == nil {
			spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{}
		}
	}
	if ru := spec.UpdateStrategy.RollingUpdate; spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType && ru != nil && ru.Partition == nil {
		ru.Partition = appsInt32(0)
	}
	if spec.PersistentVolumeClaimRetentionPolicy == nil {
		spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{}
	}
	if p := spec.PersistentVolumeClaimRetentionPolicy; p.WhenDeleted == "" {
		p.WhenDeleted = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if p := spec.PersistentVolumeClaimRetentionPolicy; p.WhenScaled == "" {
		p.WhenScaled = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if spec.Replicas == nil {
		spec.Replicas = appsInt32(1)
	}
	if spec.RevisionHistoryLimit == nil {
		spec.RevisionHistoryLimit = appsInt32(10)
	}
	for i := range spec.VolumeClaimTemplates {
		pvcDefault(&spec.VolumeClaimTemplates[i])
	}
	podSpecDefault(&spec.Template.Spec)
}

// stsValidateSpec is Kubernetes' ValidateStatefulSetSpec.
func stsValidateSpec(spec *appsv1.StatefulSetSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch spec.PodManagementPolicy {
	case "":
		errs = append(errs, field.Required(p.Child("podManagementPolicy"), ""))
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		errs = append(errs, field.Invalid(p.Child("podManagementPolicy"), spec.PodManagementPolicy,
			fmt.Sprintf("must be '%s' or '%s'", appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement)))
	}
	errs = append(errs, stsValidateUpdateStrategy(&spec.UpdateStrategy, p.Child("updateStrategy"))...)
	if rp := spec.PersistentVolumeClaimRetentionPolicy; rp != nil {
		rpPath := p.Child("persistentVolumeClaimRetentionPolicy")
		errs = append(errs, stsValidateRetention(rp.WhenDeleted, rpPath.Child("whenDeleted"))...)
		errs = append(errs, stsValidateRetention(rp.WhenScaled, rpPath.Child("whenScaled"))...)
	}
	if spec.Replicas != nil {
		errs = append(errs, appsNonNegative(p, appsCount{"replicas", int64(*spec.Replicas)})...)
	}
	if spec.Ordinals != nil {
		errs = append(errs, appsNonNegative(p, appsCount{"ordinals.start", int64(spec.Ordinals.Start)})...)
	}
	errs = append(errs, appsNonNegative(p, appsCount{"minReadySeconds", int64(spec.MinReadySeconds)})...)
	errs = append(errs, appsValidateRevisionHistory(spec.RevisionHistoryLimit, p.Child("revisionHistoryLimit"))...)
	sel, selErrs := appsValidateSelector(spec.Selector, "statefulset", p.Child("selector"))
	errs = append(errs, selErrs...)
	if sel != nil {
		// The claim templates are the pod's volumes too: mounts may name them.
		t := spec.Template.DeepCopy()
		for _, c := range spec.VolumeClaimTemplates {
			if !stsHasVolume(t.Spec.Volumes, c.Name) {
				t.Spec.Volumes = append(t.Spec.Volumes, corev1.Volume{Name: c.Name, VolumeSource: corev1.VolumeSource{
					PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c.Name}}})
			}
		}
		errs = append(errs, appsValidateTemplate(t, sel, "StatefulSet", p.Child("template"))...)
	}
	return errs
}

func stsHasVolume(vols []corev1.Volume, name string) bool {
	for _, v := range vols {
		if v.Name == name {
			return true
		}
	}
	return false
}

// stsValidateUpdateStrategy checks updateStrategy as ValidateStatefulSetSpec does.
func stsValidateUpdateStrategy(st *appsv1.StatefulSetUpdateStrategy, p *field.Path) field.ErrorList {
	switch st.Type {
	case "":
		return field.ErrorList{field.Required(p, "")}
	case appsv1.OnDeleteStatefulSetStrategyType:
		if st.RollingUpdate != nil {
			return field.ErrorList{field.Invalid(p.Child("rollingUpdate"), st.RollingUpdate,
				fmt.Sprintf("only allowed for updateStrategy '%s'", appsv1.RollingUpdateStatefulSetStrategyType))}
		}
	case appsv1.RollingUpdateStatefulSetStrategyType:
		if ru := st.RollingUpdate; ru != nil {
			rp := p.Child("rollingUpdate")
			var errs field.ErrorList
			if ru.Partition != nil {
				errs = append(errs, appsNonNegative(rp, appsCount{"partition", int64(*ru.Partition)})...)
			}
			if ru.MaxUnavailable != nil {
				mp := rp.Child("maxUnavailable")
				errs = append(errs, appsValidatePositiveIntOrPercent(*ru.MaxUnavailable, mp)...)
				if appsIntOrPercentValue(*ru.MaxUnavailable) == 0 {
					errs = append(errs, field.Invalid(mp, *ru.MaxUnavailable, "cannot be 0"))
				}
				errs = append(errs, appsNotMoreThan100Percent(*ru.MaxUnavailable, mp)...)
			}
			return errs
		}
	default:
		return field.ErrorList{field.Invalid(p, st, fmt.Sprintf("must be '%s' or '%s'",
			appsv1.RollingUpdateStatefulSetStrategyType, appsv1.OnDeleteStatefulSetStrategyType))}
	}
	return nil
}

// stsValidateRetention is Kubernetes' ValidatePersistentVolumeClaimRetentionPolicyType.
func stsValidateRetention(t appsv1.PersistentVolumeClaimRetentionPolicyType, p *field.Path) field.ErrorList {
	switch t {
	case appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType:
		return nil
	}
	return field.ErrorList{field.NotSupported(p, t, []string{
		string(appsv1.DeletePersistentVolumeClaimRetentionPolicyType), string(appsv1.RetainPersistentVolumeClaimRetentionPolicyType)})}
}

// stsValidateUpdate is Kubernetes' ValidateStatefulSetUpdate: a valid spec in which only
// the listed fields changed.
func stsValidateUpdate(s, old *appsv1.StatefulSet) field.ErrorList {
	errs := stsValidateSpec(&s.Spec, field.NewPath("spec"))
	c := s.Spec.DeepCopy()
	c.Replicas, c.Ordinals, c.Template = old.Spec.Replicas, old.Spec.Ordinals, old.Spec.Template
	c.UpdateStrategy, c.RevisionHistoryLimit = old.Spec.UpdateStrategy, old.Spec.RevisionHistoryLimit
	c.PersistentVolumeClaimRetentionPolicy, c.MinReadySeconds = old.Spec.PersistentVolumeClaimRetentionPolicy, old.Spec.MinReadySeconds
	if !apiequality.Semantic.DeepEqual(*c, old.Spec) {
		errs = append(errs, field.Forbidden(field.NewPath("spec"), "updates to statefulset spec for fields other than "+
			"'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' "+
			"and 'minReadySeconds' are forbidden"))
	}
	return errs
}

// stsValidateStatus is Kubernetes' ValidateStatefulSetStatus.
func stsValidateStatus(st *appsv1.StatefulSetStatus, p *field.Path) field.ErrorList {
	errs := appsNonNegative(p,
		appsCount{"replicas", int64(st.Replicas)}, appsCount{"readyReplicas", int64(st.ReadyReplicas)},
		appsCount{"currentReplicas", int64(st.CurrentReplicas)}, appsCount{"updatedReplicas", int64(st.UpdatedReplicas)},
		appsCount{"availableReplicas", int64(st.AvailableReplicas)}, appsCount{"observedGeneration", st.ObservedGeneration})
	if st.CollisionCount != nil {
		errs = append(errs, appsNonNegative(p, appsCount{"collisionCount", int64(*st.CollisionCount)})...)
	}
	errs = append(errs, appsNotAbove(p, st.Replicas, "status.replicas",
		appsCount{"readyReplicas", int64(st.ReadyReplicas)}, appsCount{"currentReplicas", int64(st.CurrentReplicas)},
		appsCount{"updatedReplicas", int64(st.UpdatedReplicas)}, appsCount{"availableReplicas", int64(st.AvailableReplicas)})...)
	return append(errs, appsNotAbove(p, st.ReadyReplicas, "status.readyReplicas", appsCount{"availableReplicas", int64(st.AvailableReplicas)})...)
}

// stsDropDisabledFields is Kubernetes 1.32's dropStatefulSetDisabledFields with the
// MaxUnavailableStatefulSet feature gate off (its default, and drover's controller does not
// implement it): rollingUpdate.maxUnavailable is cleared unless the old object already used it,
// so the field is not stored as if it were honoured.
func stsDropDisabledFields(sts, old *appsv1.StatefulSet) {
	if old != nil && old.Spec.UpdateStrategy.RollingUpdate != nil && old.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable != nil {
		return
	}
	if ru := sts.Spec.UpdateStrategy.RollingUpdate; ru != nil {
		ru.MaxUnavailable = nil
	}
}
