package registry

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ephemeralAllowed are the fields of an ephemeral container Kubernetes allows
// (allowedEphemeralContainerFields): no ports, probes, lifecycle, resources or restart policy.
var ephemeralAllowed = map[string]bool{
	"Name": true, "Image": true, "Command": true, "Args": true, "WorkingDir": true, "EnvFrom": true, "Env": true,
	"VolumeMounts": true, "VolumeDevices": true, "TerminationMessagePath": true, "TerminationMessagePolicy": true,
	"ImagePullPolicy": true, "SecurityContext": true, "Stdin": true, "StdinOnce": true, "TTY": true,
}

// podPrepareForEphemeralContainers is Kubernetes' dropNonEphemeralContainerUpdates: an update
// through pods/ephemeralcontainers changes spec.ephemeralContainers and nothing else.
func podPrepareForEphemeralContainers(pod, old *corev1.Pod) {
	ecs, rv := pod.Spec.EphemeralContainers, pod.ResourceVersion
	*pod = *old.DeepCopy()
	pod.Spec.EphemeralContainers, pod.ResourceVersion = ecs, rv
}

// podValidateEphemeralContainersUpdate is Kubernetes' ValidatePodEphemeralContainersUpdate:
// the new ephemeral containers are valid, and the existing ones are neither removed nor
// changed. Static (mirror) pods have none.
func podValidateEphemeralContainersUpdate(pod, old *corev1.Pod) field.ErrorList {
	if _, ok := old.Annotations[corev1.MirrorPodAnnotationKey]; ok {
		return field.ErrorList{field.Forbidden(field.NewPath(""), "static pods do not support ephemeral containers")}
	}
	specPath := field.NewPath("spec", "ephemeralContainers")
	errs := podValidateEphemeralContainers(&pod.Spec, specPath)
	byName := map[string]*corev1.EphemeralContainer{}
	for i := range pod.Spec.EphemeralContainers {
		byName[pod.Spec.EphemeralContainers[i].Name] = &pod.Spec.EphemeralContainers[i]
	}
	for _, o := range old.Spec.EphemeralContainers {
		n, ok := byName[o.Name]
		switch {
		case !ok:
			errs = append(errs, field.Forbidden(specPath, fmt.Sprintf("existing ephemeral containers %q may not be removed\n", o.Name)))
		case !apiequality.Semantic.DeepEqual(o, *n):
			errs = append(errs, field.Forbidden(specPath, fmt.Sprintf("existing ephemeral containers %q may not be changed\n%v", o.Name, cmp.Diff(o, *n))))
		}
	}
	return errs
}

// podValidateEphemeralContainers is Kubernetes' validateEphemeralContainers: each one a valid
// container with only the allowed fields, a name unique among all the pod's containers, a
// target container that is one of the pod's (non-ephemeral) containers, and no subPath.
func podValidateEphemeralContainers(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	vols := map[string]bool{}
	for _, v := range spec.Volumes {
		vols[v.Name] = true
	}
	others, all := map[string]bool{}, map[string]bool{}
	for _, c := range append(append([]corev1.Container(nil), spec.Containers...), spec.InitContainers...) {
		others[c.Name], all[c.Name] = true, true
	}
	for i := range spec.EphemeralContainers {
		ec := &spec.EphemeralContainers[i]
		p := fldPath.Index(i)
		c := (*corev1.Container)(&ec.EphemeralContainerCommon)
		errs = append(errs, podValidateContainer(c, vols, map[string]bool{}, p)...)
		if all[ec.Name] {
			errs = append(errs, field.Duplicate(p.Child("name"), ec.Name))
		}
		all[ec.Name] = true
		if ec.TargetContainerName != "" && !others[ec.TargetContainerName] {
			errs = append(errs, field.NotFound(p.Child("targetContainerName"), ec.TargetContainerName))
		}
		errs = append(errs, ephemeralFieldsForbidden(&ec.EphemeralContainerCommon, p)...)
		for j, m := range ec.VolumeMounts {
			mp := p.Child("volumeMounts").Index(j)
			if m.SubPath != "" {
				errs = append(errs, field.Forbidden(mp.Child("subPath"), "cannot be set for an Ephemeral Container"))
			}
			if m.SubPathExpr != "" {
				errs = append(errs, field.Forbidden(mp.Child("subPathExpr"), "cannot be set for an Ephemeral Container"))
			}
		}
	}
	return errs
}

// ephemeralFieldsForbidden is Kubernetes' validateFieldAllowList over EphemeralContainerCommon.
func ephemeralFieldsForbidden(c *corev1.EphemeralContainerCommon, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	v := reflect.ValueOf(c).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		if ephemeralAllowed[f.Name] || v.Field(i).IsZero() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		errs = append(errs, field.Forbidden(p.Child(name), "cannot be set for an Ephemeral Container"))
	}
	return errs
}
