package registry

import (
	"fmt"
	"regexp"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/component-helpers/node/util/sysctl"
)

// unhonoured is the answer to a security setting drover's node agent cannot apply on Docker:
// a pod that asks for it is refused rather than run without it (issue 16).
const unhonoured = "not supported by drover: the node agent would not apply it on Docker"

// sysctlNameRE is Kubernetes' sysctl name pattern (dots or slashes as separators), and
// sysctlMaxLength its length limit (pkg/apis/core/validation).
const (
	sysctlNameFmt   = `([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?`
	sysctlMaxLength = 253
)

var sysctlNameRE = regexp.MustCompile("^" + sysctlNameFmt + "$")

// podValidateSysctls is Kubernetes' validateSysctls: each name well-formed and given once, and
// no network sysctl with hostNetwork, no IPC one with hostIPC. Whether a sysctl is safe is the
// node's decision (the kubelet's allowlist, cluster/nodeagent), not the API's.
func podValidateSysctls(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	if spec.SecurityContext == nil {
		return nil
	}
	var errs field.ErrorList
	names := map[string]bool{}
	for i, s := range spec.SecurityContext.Sysctls {
		p := fldPath.Index(i).Child("name")
		switch {
		case s.Name == "":
			errs = append(errs, field.Required(p, ""))
		case len(s.Name) > sysctlMaxLength || !sysctlNameRE.MatchString(s.Name):
			errs = append(errs, field.Invalid(p, s.Name, fmt.Sprintf("must have at most %d characters and match regex %s", sysctlMaxLength, "^"+sysctlNameFmt+"$")))
		case names[s.Name]:
			errs = append(errs, field.Duplicate(p, s.Name))
		}
		ns, _, _ := sysctl.GetNamespace(s.Name)
		switch {
		case spec.HostNetwork && ns == sysctl.NetNamespace:
			errs = append(errs, field.Invalid(p, s.Name, "may not be specified when 'hostNetwork' is true"))
		case spec.HostIPC && ns == sysctl.IPCNamespace:
			errs = append(errs, field.Invalid(p, s.Name, "may not be specified when 'hostIPC' is true"))
		}
		names[s.Name] = true
	}
	return errs
}

// podRefuseUnhonoured refuses the security settings the node agent cannot apply: an unmasked
// /proc and Localhost seccomp profiles (the node has no profile directory); sysctls outside the
// safe set are refused by the node agent, as by the kubelet (SysctlForbidden). Everything else in a security context is applied (cluster/nodeagent/spec.go).
func podRefuseUnhonoured(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if psc := spec.SecurityContext; psc != nil {
		p := fldPath.Child("securityContext")
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
	if sc.ProcMount != nil && *sc.ProcMount != corev1.DefaultProcMount {
		errs = append(errs, field.Forbidden(p.Child("procMount"), unhonoured))
	}
	return append(errs, seccompUnhonoured(sc.SeccompProfile, p.Child("seccompProfile"))...)
}

// seccompUnhonoured lets RuntimeDefault (Docker's default profile) and Unconfined pass and
// refuses Localhost: the node has no seccomp profile directory.
func seccompUnhonoured(sp *corev1.SeccompProfile, fldPath *field.Path) field.ErrorList {
	if sp == nil || sp.Type != corev1.SeccompProfileTypeLocalhost {
		return nil
	}
	return field.ErrorList{field.Forbidden(fldPath.Child("type"), "Localhost: "+unhonoured+" (the node has no seccomp profile directory)")}
}
