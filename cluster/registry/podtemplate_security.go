package registry

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// unhonoured is the answer to a security setting drover's node agent cannot apply on Docker:
// a pod that asks for it is refused rather than run without it (issue 16).
const unhonoured = "not supported by drover: the node agent would not apply it on Docker"

// safeSysctls are the namespaced sysctls Kubernetes 1.32 allows by default (the kubelet's
// safe set); others need --allowed-unsafe-sysctls, which drover has not.
var safeSysctls = map[string]bool{
	"kernel.shm_rmid_forced":              true,
	"net.ipv4.ip_local_port_range":        true,
	"net.ipv4.tcp_syncookies":             true,
	"net.ipv4.ping_group_range":           true,
	"net.ipv4.ip_unprivileged_port_start": true,
	"net.ipv4.ip_local_reserved_ports":    true,
	"net.ipv4.tcp_keepalive_time":         true,
	"net.ipv4.tcp_fin_timeout":            true,
	"net.ipv4.tcp_keepalive_intvl":        true,
	"net.ipv4.tcp_keepalive_probes":       true,
}

// podRefuseUnhonoured refuses the security settings the node agent cannot apply: an unmasked
// /proc, sysctls outside the safe set and Localhost seccomp profiles (the node has no profile
// directory). Everything else in a security context is applied (cluster/nodeagent/spec.go).
func podRefuseUnhonoured(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if psc := spec.SecurityContext; psc != nil {
		p := fldPath.Child("securityContext")
		for i, s := range psc.Sysctls {
			if !safeSysctls[s.Name] {
				errs = append(errs, field.Forbidden(p.Child("sysctls").Index(i).Child("name"),
					fmt.Sprintf("forbidden sysctl: %q not allowlisted", s.Name)))
			}
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
