package statefulset

import (
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var podKind = corev1.SchemeGroupVersion.WithKind("Pod")

const (
	retain = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	del    = appsv1.DeletePersistentVolumeClaimRetentionPolicyType
)

// retentionPolicy is spec.persistentVolumeClaimRetentionPolicy with the API's defaults
// (Retain, Retain).
func retentionPolicy(set *appsv1.StatefulSet) appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy {
	p := appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: retain, WhenScaled: retain}
	if sp := set.Spec.PersistentVolumeClaimRetentionPolicy; sp != nil {
		if sp.WhenDeleted != "" {
			p.WhenDeleted = sp.WhenDeleted
		}
		if sp.WhenScaled != "" {
			p.WhenScaled = sp.WhenScaled
		}
	}
	return p
}

// matchesRef: ref names owner (same kind, name and uid).
func matchesRef(ref *metav1.OwnerReference, owner metav1.Object, kind schema.GroupVersionKind) bool {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	return err == nil && gv.Group == kind.Group && ref.Kind == kind.Kind && ref.Name == owner.GetName() && ref.UID == owner.GetUID()
}

func hasOwnerRef(target, owner metav1.Object, kind schema.GroupVersionKind) bool {
	for _, ref := range target.GetOwnerReferences() {
		if matchesRef(&ref, owner, kind) {
			return true
		}
	}
	return false
}

// hasStaleOwnerRef: target has a reference to an object of owner's kind and name but another
// uid (a former pod or set of that name).
func hasStaleOwnerRef(target, owner metav1.Object, kind schema.GroupVersionKind) bool {
	for _, ref := range target.GetOwnerReferences() {
		gv, err := schema.ParseGroupVersion(ref.APIVersion)
		if err == nil && gv.Group == kind.Group && ref.Kind == kind.Kind && ref.Name == owner.GetName() && ref.UID != owner.GetUID() {
			return true
		}
	}
	return false
}

// hasUnexpectedController: the claim has a controller that is neither set nor pod.
func hasUnexpectedController(claim *corev1.PersistentVolumeClaim, set *appsv1.StatefulSet, pod *corev1.Pod) bool {
	for _, ref := range claim.OwnerReferences {
		if ref.Controller != nil && *ref.Controller && !matchesRef(&ref, set, controllerKind) && !matchesRef(&ref, pod, podKind) {
			return true
		}
	}
	return false
}

// hasNonControllerOwner: set or pod owns the claim without being its controller.
func hasNonControllerOwner(claim *corev1.PersistentVolumeClaim, set *appsv1.StatefulSet, pod *corev1.Pod) bool {
	for _, ref := range claim.OwnerReferences {
		if (ref.Controller == nil || !*ref.Controller) && (matchesRef(&ref, set, controllerKind) || matchesRef(&ref, pod, podKind)) {
			return true
		}
	}
	return false
}

// claimOwnerUpToDate reports whether the claim's owners follow set's retention policy
// (Kubernetes' isClaimOwnerUpToDate): Retain/Retain no owner; whenDeleted Delete the set;
// whenScaled Delete the pod once it is scaled away. Stale references or another controller
// leave the claim alone.
func claimOwnerUpToDate(claim *corev1.PersistentVolumeClaim, set *appsv1.StatefulSet, pod *corev1.Pod) bool {
	if hasStaleOwnerRef(claim, set, controllerKind) || hasStaleOwnerRef(claim, pod, podKind) {
		return true
	}
	if hasUnexpectedController(claim, set, pod) {
		return !hasOwnerRef(claim, set, controllerKind) && !hasOwnerRef(claim, pod, podKind)
	}
	if hasNonControllerOwner(claim, set, pod) {
		return false
	}
	p := retentionPolicy(set)
	setRef, podRef := hasOwnerRef(claim, set, controllerKind), hasOwnerRef(claim, pod, podKind)
	scaledDown := !podInOrdinalRange(pod, set)
	switch {
	case p.WhenScaled == retain && p.WhenDeleted == del:
		return setRef && !podRef
	case p.WhenScaled == del && p.WhenDeleted == retain:
		return !setRef && scaledDown == podRef
	case p.WhenScaled == del && p.WhenDeleted == del:
		return scaledDown != setRef && scaledDown == podRef
	default: // Retain, Retain (and unknown values, treated as Retain)
		return !setRef && !podRef
	}
}

// updateClaimOwners sets the claim's references to set and pod as the retention policy asks
// (Kubernetes' updateClaimOwnerRefForSetAndPod).
func updateClaimOwners(claim *corev1.PersistentVolumeClaim, set *appsv1.StatefulSet, pod *corev1.Pod) {
	unexpected := hasUnexpectedController(claim, set, pod)
	refs := slices.DeleteFunc(slices.Clone(claim.OwnerReferences), func(ref metav1.OwnerReference) bool {
		return matchesRef(&ref, set, controllerKind) || matchesRef(&ref, pod, podKind)
	})
	if unexpected {
		claim.OwnerReferences = refs
		return
	}
	p := retentionPolicy(set)
	scaledDown := !podInOrdinalRange(pod, set)
	switch {
	case p.WhenScaled == retain && p.WhenDeleted == del:
		refs = append(refs, *metav1.NewControllerRef(set, controllerKind))
	case p.WhenScaled == del && p.WhenDeleted == retain:
		if scaledDown {
			refs = append(refs, *metav1.NewControllerRef(pod, podKind))
		}
	case p.WhenScaled == del && p.WhenDeleted == del:
		if scaledDown {
			refs = append(refs, *metav1.NewControllerRef(pod, podKind))
		} else {
			refs = append(refs, *metav1.NewControllerRef(set, controllerKind))
		}
	}
	if len(refs) == 0 {
		refs = nil
	}
	claim.OwnerReferences = refs
}
