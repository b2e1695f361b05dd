package registry

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// podValidateProbes checks the lifecycle hooks and the three probes of a container (grace is
// the pod's terminationGracePeriodSeconds, which bounds a sleep hook).
func podValidateProbes(c *corev1.Container, grace *int64, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if c.Lifecycle != nil {
		if h := c.Lifecycle.PostStart; h != nil {
			errs = append(errs, podValidateLifecycleHandler(h, grace, p.Child("lifecycle", "postStart"))...)
		}
		if h := c.Lifecycle.PreStop; h != nil {
			errs = append(errs, podValidateLifecycleHandler(h, grace, p.Child("lifecycle", "preStop"))...)
		}
	}
	errs = append(errs, podValidateProbe(c.LivenessProbe, p.Child("livenessProbe"))...)
	errs = append(errs, podValidateProbe(c.ReadinessProbe, p.Child("readinessProbe"))...)
	errs = append(errs, podValidateProbe(c.StartupProbe, p.Child("startupProbe"))...)
	if c.LivenessProbe != nil && c.LivenessProbe.SuccessThreshold != 1 {
		errs = append(errs, field.Invalid(p.Child("livenessProbe", "successThreshold"), c.LivenessProbe.SuccessThreshold, "must be 1"))
	}
	if c.StartupProbe != nil && c.StartupProbe.SuccessThreshold != 1 {
		errs = append(errs, field.Invalid(p.Child("startupProbe", "successThreshold"), c.StartupProbe.SuccessThreshold, "must be 1"))
	}
	if c.ReadinessProbe != nil && c.ReadinessProbe.TerminationGracePeriodSeconds != nil {
		errs = append(errs, field.Invalid(p.Child("readinessProbe", "terminationGracePeriodSeconds"),
			*c.ReadinessProbe.TerminationGracePeriodSeconds, "must not be set for readinessProbes"))
	}
	return errs
}

// podValidateLifecycleHandler is Kubernetes' validateLifecycleHandler: one handler type; a
// sleep (PodLifecycleSleepAction, on in 1.32) of more than 0 seconds and at most the grace
// period (validateSleepAction without the alpha AllowPodLifecycleSleepActionZeroValue).
func podValidateLifecycleHandler(h *corev1.LifecycleHandler, grace *int64, p *field.Path) field.ErrorList {
	if h.Sleep == nil {
		return podValidateHandler(podLifecycleHandler(h), p)
	}
	if h.Exec != nil || h.HTTPGet != nil || h.TCPSocket != nil {
		return field.ErrorList{field.Forbidden(p.Child("sleep"), "may not specify more than 1 handler type")}
	}
	if grace != nil && (h.Sleep.Seconds <= 0 || h.Sleep.Seconds > *grace) {
		return field.ErrorList{field.Invalid(p.Child("sleep"), h.Sleep.Seconds, fmt.Sprintf(
			"must be greater than 0 and less than terminationGracePeriodSeconds (%d). Enable AllowPodLifecycleSleepActionZeroValue feature gate for zero sleep.", *grace))}
	}
	return nil
}

// podLifecycleHandler views a lifecycle handler as a probe handler (sleep aside).
func podLifecycleHandler(h *corev1.LifecycleHandler) corev1.ProbeHandler {
	return corev1.ProbeHandler{Exec: h.Exec, HTTPGet: h.HTTPGet, TCPSocket: h.TCPSocket}
}

// podValidateProbe is Kubernetes' validateProbe.
func podValidateProbe(pr *corev1.Probe, p *field.Path) field.ErrorList {
	if pr == nil {
		return nil
	}
	errs := podValidateHandler(pr.ProbeHandler, p)
	for _, f := range []struct {
		name  string
		value int32
	}{
		{"initialDelaySeconds", pr.InitialDelaySeconds}, {"timeoutSeconds", pr.TimeoutSeconds},
		{"periodSeconds", pr.PeriodSeconds}, {"successThreshold", pr.SuccessThreshold},
		{"failureThreshold", pr.FailureThreshold},
	} {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(f.value), p.Child(f.name))...)
	}
	if g := pr.TerminationGracePeriodSeconds; g != nil && *g <= 0 {
		errs = append(errs, field.Invalid(p.Child("terminationGracePeriodSeconds"), *g, "must be greater than 0"))
	}
	return errs
}

// podValidateHandler is Kubernetes' validateHandler: exactly one handler type.
func podValidateHandler(h corev1.ProbeHandler, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	n := 0
	add := func(set bool, name string, check func(*field.Path) field.ErrorList) {
		if !set {
			return
		}
		if n > 0 {
			errs = append(errs, field.Forbidden(p.Child(name), "may not specify more than 1 handler type"))
			return
		}
		n++
		errs = append(errs, check(p.Child(name))...)
	}
	add(h.Exec != nil, "exec", func(fp *field.Path) field.ErrorList {
		if len(h.Exec.Command) == 0 {
			return field.ErrorList{field.Required(fp.Child("command"), "")}
		}
		return nil
	})
	add(h.HTTPGet != nil, "httpGet", func(fp *field.Path) field.ErrorList { return podValidateHTTPGet(h.HTTPGet, fp) })
	add(h.TCPSocket != nil, "tcpSocket", func(fp *field.Path) field.ErrorList {
		return podValidatePortNumOrName(h.TCPSocket.Port, fp.Child("port"))
	})
	add(h.GRPC != nil, "grpc", func(fp *field.Path) field.ErrorList {
		var errs field.ErrorList
		for _, msg := range validation.IsValidPortNum(int(h.GRPC.Port)) {
			errs = append(errs, field.Invalid(fp.Child("port"), h.GRPC.Port, msg))
		}
		return errs
	})
	if n == 0 {
		errs = append(errs, field.Required(p, "must specify a handler type"))
	}
	return errs
}

// podValidateHTTPGet is Kubernetes' validateHTTPGetAction.
func podValidateHTTPGet(h *corev1.HTTPGetAction, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if h.Path == "" {
		errs = append(errs, field.Required(p.Child("path"), ""))
	}
	errs = append(errs, podValidatePortNumOrName(h.Port, p.Child("port"))...)
	if h.Scheme != corev1.URISchemeHTTP && h.Scheme != corev1.URISchemeHTTPS {
		errs = append(errs, field.NotSupported(p.Child("scheme"), h.Scheme, []corev1.URIScheme{corev1.URISchemeHTTP, corev1.URISchemeHTTPS}))
	}
	for _, hdr := range h.HTTPHeaders {
		for _, msg := range validation.IsHTTPHeaderName(hdr.Name) {
			errs = append(errs, field.Invalid(p.Child("httpHeaders"), hdr.Name, msg))
		}
	}
	return errs
}

// podValidatePortNumOrName is Kubernetes' ValidatePortNumOrName.
func podValidatePortNumOrName(port intstr.IntOrString, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if port.Type == intstr.Int {
		for _, msg := range validation.IsValidPortNum(port.IntValue()) {
			errs = append(errs, field.Invalid(p, port.IntValue(), msg))
		}
		return errs
	}
	for _, msg := range validation.IsValidPortName(port.StrVal) {
		errs = append(errs, field.Invalid(p, port.StrVal, msg))
	}
	return errs
}

// podStandardResources are the container resources Kubernetes knows without a domain prefix.
var podStandardResources = map[corev1.ResourceName]bool{
	corev1.ResourceCPU: true, corev1.ResourceMemory: true, corev1.ResourceEphemeralStorage: true,
}

// podValidateResources is Kubernetes' ValidateResourceRequirements: known names,
// non-negative quantities, requests not above limits.
func podValidateResources(r *corev1.ResourceRequirements, p *field.Path) field.ErrorList {
	limPath, reqPath := p.Child("limits"), p.Child("requests")
	errs := podValidateResourceList(r.Limits, limPath)
	errs = append(errs, podValidateResourceList(r.Requests, reqPath)...)
	for _, name := range podSortedResourceNames(r.Requests) {
		req := r.Requests[name]
		lim, ok := r.Limits[name]
		if !ok {
			continue
		}
		overcommit := podStandardResources[name]
		switch {
		case !overcommit && req.Cmp(lim) != 0:
			errs = append(errs, field.Invalid(reqPath, req.String(), fmt.Sprintf("must be equal to %s limit of %s", name, lim.String())))
		case req.Cmp(lim) > 0:
			errs = append(errs, field.Invalid(reqPath, req.String(), fmt.Sprintf("must be less than or equal to %s limit of %s", name, lim.String())))
		}
	}
	return errs
}

func podValidateResourceList(list corev1.ResourceList, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, name := range podSortedResourceNames(list) {
		q := list[name]
		fp := p.Key(string(name))
		if !podStandardResources[name] && !strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix) && !strings.Contains(string(name), "/") {
			errs = append(errs, field.Invalid(fp, string(name), "must be a standard resource for containers"))
		}
		if q.Cmp(resource.Quantity{}) < 0 {
			errs = append(errs, field.Invalid(fp, q.String(), "must be greater than or equal to 0"))
		}
	}
	return errs
}

func podSortedResourceNames(list corev1.ResourceList) []corev1.ResourceName {
	names := make([]corev1.ResourceName, 0, len(list))
	for n := range list {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
	return names
}
