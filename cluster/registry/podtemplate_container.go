package registry

import (
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// podValidateAllContainers checks init and app containers: required list, unique names across
// both, each container's own rules, and the ports of the pod's shared network namespace.
func podValidateAllContainers(spec *corev1.PodSpec, vols map[string]bool, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := map[string]bool{}
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		p := fldPath.Child("initContainers").Index(i)
		errs = append(errs, podValidateContainer(c, vols, names, p)...)
		errs = append(errs, podValidateInitOnly(c, p)...)
	}
	if len(spec.Containers) == 0 {
		errs = append(errs, field.Required(fldPath.Child("containers"), ""))
	}
	for i := range spec.Containers {
		c := &spec.Containers[i]
		p := fldPath.Child("containers").Index(i)
		errs = append(errs, podValidateContainer(c, vols, names, p)...)
		errs = append(errs, podValidateProbes(c, spec.TerminationGracePeriodSeconds, p)...)
		if c.RestartPolicy != nil {
			errs = append(errs, field.Forbidden(p.Child("restartPolicy"), "may not be set for non-init containers"))
		}
	}
	errs = append(errs, podValidatePodPorts(spec, fldPath)...)
	return errs
}

// podValidateContainer is the part of Kubernetes' validateContainerCommon drover keeps.
func podValidateContainer(c *corev1.Container, vols, names map[string]bool, p *field.Path) field.ErrorList {
	errs := podDNSLabel(c.Name, p.Child("name"))
	if c.Name != "" && names[c.Name] {
		errs = append(errs, field.Duplicate(p.Child("name"), c.Name))
	}
	names[c.Name] = true
	if c.Image == "" {
		errs = append(errs, field.Required(p.Child("image"), ""))
	} else if c.Image != strings.TrimSpace(c.Image) {
		errs = append(errs, field.Invalid(p.Child("image"), c.Image, "must not have leading or trailing whitespace"))
	}
	switch c.TerminationMessagePolicy {
	case corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError:
	case "":
		errs = append(errs, field.Required(p.Child("terminationMessagePolicy"), "must be 'File' or 'FallbackToLogsOnError'"))
	default:
		errs = append(errs, field.Invalid(p.Child("terminationMessagePolicy"), c.TerminationMessagePolicy, "must be 'File' or 'FallbackToLogsOnError'"))
	}
	errs = append(errs, podEnum(string(c.ImagePullPolicy), p.Child("imagePullPolicy"),
		string(corev1.PullAlways), string(corev1.PullIfNotPresent), string(corev1.PullNever))...)
	errs = append(errs, podValidatePorts(c.Ports, p.Child("ports"))...)
	errs = append(errs, podValidateEnv(c.Env, p.Child("env"))...)
	errs = append(errs, podValidateEnvFrom(c.EnvFrom, p.Child("envFrom"))...)
	errs = append(errs, podValidateMounts(c.VolumeMounts, vols, p.Child("volumeMounts"))...)
	errs = append(errs, podValidateResources(&c.Resources, p.Child("resources"))...)
	return errs
}

// podValidateInitOnly checks what init containers may carry: probes and lifecycle only as
// sidecars (restartPolicy Always).
func podValidateInitOnly(c *corev1.Container, p *field.Path) field.ErrorList {
	if c.RestartPolicy != nil {
		if *c.RestartPolicy != corev1.ContainerRestartPolicyAlways {
			return field.ErrorList{field.NotSupported(p.Child("restartPolicy"), *c.RestartPolicy,
				[]corev1.ContainerRestartPolicy{corev1.ContainerRestartPolicyAlways})}
		}
		// Sidecar init containers (Kubernetes 1.28+) are not run by drover's node agent: it runs
		// init containers to completion, so a sidecar would hold the pod in Init forever.
		return field.ErrorList{field.Forbidden(p.Child("restartPolicy"),
			"sidecar init containers (restartPolicy: Always) are not supported by drover; run the sidecar as a regular container")}
	}
	const msg = "may not be set for init containers without restartPolicy=Always"
	var errs field.ErrorList
	if c.Lifecycle != nil {
		errs = append(errs, field.Forbidden(p.Child("lifecycle"), msg))
	}
	if c.LivenessProbe != nil {
		errs = append(errs, field.Forbidden(p.Child("livenessProbe"), msg))
	}
	if c.ReadinessProbe != nil {
		errs = append(errs, field.Forbidden(p.Child("readinessProbe"), msg))
	}
	if c.StartupProbe != nil {
		errs = append(errs, field.Forbidden(p.Child("startupProbe"), msg))
	}
	return errs
}

// podValidatePorts is Kubernetes' validateContainerPorts.
func podValidatePorts(ports []corev1.ContainerPort, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := map[string]bool{}
	for i, port := range ports {
		p := fldPath.Index(i)
		if port.Name != "" {
			if msgs := validation.IsValidPortName(port.Name); len(msgs) > 0 {
				for _, msg := range msgs {
					errs = append(errs, field.Invalid(p.Child("name"), port.Name, msg))
				}
			} else if names[port.Name] {
				errs = append(errs, field.Duplicate(p.Child("name"), port.Name))
			} else {
				names[port.Name] = true
			}
		}
		if port.ContainerPort == 0 {
			errs = append(errs, field.Required(p.Child("containerPort"), ""))
		} else {
			for _, msg := range validation.IsValidPortNum(int(port.ContainerPort)) {
				errs = append(errs, field.Invalid(p.Child("containerPort"), port.ContainerPort, msg))
			}
		}
		if port.HostPort != 0 {
			for _, msg := range validation.IsValidPortNum(int(port.HostPort)) {
				errs = append(errs, field.Invalid(p.Child("hostPort"), port.HostPort, msg))
			}
		}
		errs = append(errs, podEnum(string(port.Protocol), p.Child("protocol"),
			string(corev1.ProtocolSCTP), string(corev1.ProtocolTCP), string(corev1.ProtocolUDP))...)
	}
	return errs
}

// podValidatePodPorts checks the ports of the app containers together, as they share one
// network namespace: a containerPort may be declared once per protocol (and host binding),
// a hostPort once per protocol and host IP, and with hostNetwork hostPort must equal
// containerPort. Kubernetes only warns about duplicate container ports; drover rejects them.
func podValidatePodPorts(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	containerPorts, hostPorts := map[string]bool{}, map[string]bool{}
	for ci, c := range spec.Containers {
		for pi, port := range c.Ports {
			p := fldPath.Child("containers").Index(ci).Child("ports").Index(pi)
			key := fmt.Sprintf("%s/%d/%s/%d", port.Protocol, port.ContainerPort, port.HostIP, port.HostPort)
			hk := fmt.Sprintf("%s/%s/%d", port.Protocol, port.HostIP, port.HostPort)
			switch {
			case port.ContainerPort != 0 && containerPorts[key]:
				errs = append(errs, field.Duplicate(p.Child("containerPort"), port.ContainerPort))
			case port.HostPort != 0 && hostPorts[hk]:
				errs = append(errs, field.Duplicate(p.Child("hostPort"), hk))
			}
			containerPorts[key] = true
			if port.HostPort != 0 {
				hostPorts[hk] = true
			}
			if spec.HostNetwork && port.HostPort != port.ContainerPort {
				errs = append(errs, field.Invalid(p.Child("hostPort"), port.HostPort, "must match `containerPort` when `hostNetwork` is true"))
			}
		}
	}
	return errs
}

// podValidateMounts is Kubernetes' ValidateVolumeMounts plus drover's absolute-path rule (the
// Docker engine refuses relative mount targets).
func podValidateMounts(mounts []corev1.VolumeMount, vols map[string]bool, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, m := range mounts {
		p := fldPath.Index(i)
		if m.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		} else if !vols[m.Name] {
			errs = append(errs, field.NotFound(p.Child("name"), m.Name))
		}
		switch {
		case m.MountPath == "":
			errs = append(errs, field.Required(p.Child("mountPath"), ""))
		case !path.IsAbs(m.MountPath):
			errs = append(errs, field.Invalid(p.Child("mountPath"), m.MountPath, "must be an absolute path"))
		case seen[m.MountPath]:
			errs = append(errs, field.Invalid(p.Child("mountPath"), m.MountPath, "must be unique"))
		}
		seen[m.MountPath] = true
		if m.SubPath != "" {
			errs = append(errs, podLocalPath(m.SubPath, p.Child("subPath"))...)
		}
	}
	return errs
}

// podLocalPath is Kubernetes' validateLocalDescendingPath: relative, without "..".
func podLocalPath(target string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if path.IsAbs(target) {
		errs = append(errs, field.Invalid(fldPath, target, "must be a relative path"))
	}
	for _, part := range strings.Split(target, "/") {
		if part == ".." {
			errs = append(errs, field.Invalid(fldPath, target, "must not contain '..'"))
			break
		}
	}
	return errs
}
