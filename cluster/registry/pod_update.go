package registry

import (
	"math"
	"net"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// podUpdateForbiddenMsg is Kubernetes' message for a pod spec update outside the mutable fields.
const podUpdateForbiddenMsg = "pod updates may not change fields other than `spec.containers[*].image`," +
	"`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations)," +
	"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"

// podValidateUpdate is Kubernetes' ValidatePodUpdate: only container images,
// activeDeadlineSeconds (set or lowered), added tolerations and a negative grace period
// raised to 1 may change.
func podValidateUpdate(pod, old *corev1.Pod) field.ErrorList {
	specPath := field.NewPath("spec")
	errs, stop := podValidateContainerUpdates(pod.Spec.Containers, old.Spec.Containers, specPath.Child("containers"))
	if stop {
		return errs
	}
	initErrs, stop := podValidateContainerUpdates(pod.Spec.InitContainers, old.Spec.InitContainers, specPath.Child("initContainers"))
	if errs = append(errs, initErrs...); stop {
		return errs
	}
	if e := podValidateDeadlineUpdate(pod.Spec.ActiveDeadlineSeconds, old.Spec.ActiveDeadlineSeconds, specPath.Child("activeDeadlineSeconds")); e != nil {
		return append(errs, e)
	}
	errs = append(errs, podValidateOnlyAddedTolerations(pod.Spec.Tolerations, old.Spec.Tolerations, specPath.Child("tolerations"))...)

	munged := *pod.Spec.DeepCopy()
	for i := range munged.Containers {
		munged.Containers[i].Image = old.Spec.Containers[i].Image
	}
	for i := range munged.InitContainers {
		munged.InitContainers[i].Image = old.Spec.InitContainers[i].Image
	}
	munged.ActiveDeadlineSeconds = old.Spec.ActiveDeadlineSeconds
	munged.Tolerations = old.Spec.Tolerations
	if g, og := munged.TerminationGracePeriodSeconds, old.Spec.TerminationGracePeriodSeconds; og != nil && *og < 0 && g != nil && *g == 1 {
		munged.TerminationGracePeriodSeconds = og
	}
	if changed := podChangedSpecFields(&munged, &old.Spec); len(changed) > 0 {
		errs = append(errs, field.Forbidden(specPath, podUpdateForbiddenMsg+"\nchanged: "+strings.Join(changed, ", ")))
	}
	return errs
}

// podValidateContainerUpdates is Kubernetes' ValidateContainerUpdates; stop says that the
// container list changed length and nothing more should be checked.
func podValidateContainerUpdates(cs, old []corev1.Container, fldPath *field.Path) (field.ErrorList, bool) {
	if len(cs) != len(old) {
		return field.ErrorList{field.Forbidden(fldPath, "pod updates may not add or remove containers")}, true
	}
	var errs field.ErrorList
	for i, c := range cs {
		if c.Image == "" {
			errs = append(errs, field.Required(fldPath.Index(i).Child("image"), ""))
		}
	}
	return errs, false
}

// podValidateDeadlineUpdate allows activeDeadlineSeconds to be set from nil or lowered.
func podValidateDeadlineUpdate(ads, old *int64, p *field.Path) *field.Error {
	switch {
	case ads != nil && (*ads < 0 || *ads > math.MaxInt32):
		return field.Invalid(p, *ads, validation.InclusiveRangeError(0, math.MaxInt32))
	case ads != nil && old != nil && *old < *ads:
		return field.Invalid(p, *ads, "must be less than or equal to previous value")
	case ads == nil && old != nil:
		return field.Invalid(p, ads, "must not update from a positive integer to nil value")
	}
	return nil
}

// podValidateOnlyAddedTolerations is Kubernetes' validateOnlyAddedTolerations.
func podValidateOnlyAddedTolerations(tols, old []corev1.Toleration, fldPath *field.Path) field.ErrorList {
	for _, o := range old {
		found := false
		for _, t := range tols {
			clone := o
			clone.TolerationSeconds = t.TolerationSeconds
			if reflect.DeepEqual(clone, t) {
				found = true
				break
			}
		}
		if !found {
			return field.ErrorList{field.Forbidden(fldPath, "existing toleration can not be modified except its tolerationSeconds")}
		}
	}
	return podValidateTolerations(tols, fldPath)
}

// podChangedSpecFields names the top-level pod spec fields that differ.
func podChangedSpecFields(spec, old *corev1.PodSpec) []string {
	a, b := reflect.ValueOf(spec).Elem(), reflect.ValueOf(old).Elem()
	var changed []string
	for i := 0; i < a.NumField(); i++ {
		if !apiequality.Semantic.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
			name, _, _ := strings.Cut(a.Type().Field(i).Tag.Get("json"), ",")
			changed = append(changed, "spec."+name)
		}
	}
	return changed
}

// podPhases are the valid pod phases.
var podPhases = []string{
	string(corev1.PodPending), string(corev1.PodRunning), string(corev1.PodSucceeded),
	string(corev1.PodFailed), string(corev1.PodUnknown),
}

// podValidateStatusUpdate checks a pods/status update (the server keeps everything but status):
// the phase, condition types, nominatedNodeName and IPs.
func podValidateStatusUpdate(pod, old *corev1.Pod) field.ErrorList {
	st := &pod.Status
	p := field.NewPath("status")
	var errs field.ErrorList
	if st.Phase != "" {
		errs = append(errs, podEnum(string(st.Phase), p.Child("phase"), podPhases...)...)
	}
	for i, c := range st.Conditions {
		switch c.Type {
		case corev1.PodScheduled, corev1.PodReady, corev1.PodInitialized:
			continue
		}
		for _, msg := range validation.IsQualifiedName(string(c.Type)) {
			errs = append(errs, field.Invalid(p.Child("conditions").Index(i).Child("Type"), c.Type, msg))
		}
	}
	if st.NominatedNodeName != old.Status.NominatedNodeName {
		errs = append(errs, podNames(st.NominatedNodeName, apivalidation.NameIsDNSSubdomain, p.Child("nominatedNodeName"))...)
	}
	for i, ip := range st.PodIPs {
		if net.ParseIP(ip.IP) == nil {
			errs = append(errs, field.Invalid(p.Child("podIPs").Index(i), ip.IP, "must be a valid IP address"))
		}
	}
	for i, ip := range st.HostIPs {
		if net.ParseIP(ip.IP) == nil {
			errs = append(errs, field.Invalid(p.Child("hostIPs").Index(i), ip.IP, "must be a valid IP address"))
		}
	}
	return errs
}
