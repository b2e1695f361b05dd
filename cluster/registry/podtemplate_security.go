package registry

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// unhonoured is the answer to a security setting drover's node agent does not apply on Docker:
// a pod that asks for it is refused rather than run without it (issue 16).
const unhonoured = "not supported by drover: the node agent would not apply it on Docker"

// podRefuseUnhonoured refuses the security settings the node agent does not apply: a non-root
// requirement, capabilities, a read-only root file system, no privilege escalation, seccomp
// profiles other than the runtime's default, an unmasked /proc, sysctls, fsGroup and
// supplemental groups. Their defaults (and settings that ask for Docker's own behaviour) pass.
func podRefuseUnhonoured(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if psc := spec.SecurityContext; psc != nil {
		p := fldPath.Child("securityContext")
		if psc.RunAsNonRoot != nil && *psc.RunAsNonRoot {
			errs = append(errs, field.Forbidden(p.Child("runAsNonRoot"), unhonoured))
		}
		if psc.FSGroup != nil {
			errs = append(errs, field.Forbidden(p.Child("fsGroup"), unhonoured))
		}
		if psc.FSGroupChangePolicy != nil {
			errs = append(errs, field.Forbidden(p.Child("fsGroupChangePolicy"), unhonoured))
		}
		if len(psc.SupplementalGroups) > 0 {
			errs = append(errs, field.Forbidden(p.Child("supplementalGroups"), unhonoured))
		}
		if len(psc.Sysctls) > 0 {
			errs = append(errs, field.Forbidden(p.Child("sysctls"), unhonoured))
		}
		errs = append(errs, seccompUnhonoured(psc.SeccompProfile, p.Child("seccompProfile"))...)
	}
	for i := range spec.InitContainers {
		errs = append(errs, containerUnhonoured(spec.InitContainers[i].SecurityContext, fldPath.Child("initContainers").Index(i))...)
	}
	for i := range spec.Containers {
		errs = append(errs, containerUnhonoured(spec.Containers[i].SecurityContext, fldPath.Child("containers").Index(i))...)
	}
	return errs
}

func containerUnhonoured(sc *corev1.SecurityContext, fldPath *field.Path) field.ErrorList {
	if sc == nil {
		return nil
	}
	p := fldPath.Child("securityContext")
	var errs field.ErrorList
	if sc.RunAsNonRoot != nil && *sc.RunAsNonRoot {
		errs = append(errs, field.Forbidden(p.Child("runAsNonRoot"), unhonoured))
	}
	if c := sc.Capabilities; c != nil && (len(c.Add) > 0 || len(c.Drop) > 0) {
		errs = append(errs, field.Forbidden(p.Child("capabilities"), unhonoured))
	}
	if sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem {
		errs = append(errs, field.Forbidden(p.Child("readOnlyRootFilesystem"), unhonoured))
	}
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		errs = append(errs, field.Forbidden(p.Child("allowPrivilegeEscalation"), unhonoured))
	}
	if sc.ProcMount != nil && *sc.ProcMount != corev1.DefaultProcMount {
		errs = append(errs, field.Forbidden(p.Child("procMount"), unhonoured))
	}
	return append(errs, seccompUnhonoured(sc.SeccompProfile, p.Child("seccompProfile"))...)
}

// seccompUnhonoured lets RuntimeDefault pass (Docker applies its default profile to every
// unprivileged container) and refuses the others.
func seccompUnhonoured(sp *corev1.SeccompProfile, fldPath *field.Path) field.ErrorList {
	if sp == nil || sp.Type == corev1.SeccompProfileTypeRuntimeDefault {
		return nil
	}
	return field.ErrorList{field.Forbidden(fldPath.Child("type"), unhonoured)}
}
