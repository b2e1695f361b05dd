package registry

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// svcMaxClientIPAffinitySeconds is the longest ClientIP session affinity (one day).
const svcMaxClientIPAffinitySeconds = 86400

// ServiceNodePortMin and ServiceNodePortMax bound the node ports a service may ask for
// (Kubernetes' --service-node-port-range, 30000-32767 by default). The server may change them
// at start-up, before serving.
var (
	ServiceNodePortMin int32 = 30000
	ServiceNodePortMax int32 = 32767
)

var (
	svcTypes = []string{string(corev1.ServiceTypeClusterIP), string(corev1.ServiceTypeExternalName),
		string(corev1.ServiceTypeLoadBalancer), string(corev1.ServiceTypeNodePort)}
	svcAffinities       = []string{string(corev1.ServiceAffinityClientIP), string(corev1.ServiceAffinityNone)}
	svcProtocols        = []string{string(corev1.ProtocolSCTP), string(corev1.ProtocolTCP), string(corev1.ProtocolUDP)}
	svcExternalPolicies = []string{string(corev1.ServiceExternalTrafficPolicyCluster), string(corev1.ServiceExternalTrafficPolicyLocal)}
	svcInternalPolicies = []string{string(corev1.ServiceInternalTrafficPolicyCluster), string(corev1.ServiceInternalTrafficPolicyLocal)}
	svcFamilyPolicies   = []string{string(corev1.IPFamilyPolicyPreferDualStack), string(corev1.IPFamilyPolicyRequireDualStack),
		string(corev1.IPFamilyPolicySingleStack)}
	svcFamilies = []string{string(corev1.IPv4Protocol), string(corev1.IPv6Protocol)}
)

// svcValidate checks a service the way Kubernetes' ValidateService does (metadata aside).
func svcValidate(svc *corev1.Service) field.ErrorList {
	spec := &svc.Spec
	specPath := field.NewPath("spec")
	headless := spec.ClusterIP == corev1.ClusterIPNone
	var errs field.ErrorList
	if len(spec.Ports) == 0 && !headless && spec.Type != corev1.ServiceTypeExternalName {
		errs = append(errs, field.Required(specPath.Child("ports"), ""))
	}
	errs = append(errs, svcValidateType(svc, specPath)...)
	names := map[string]bool{}
	for i := range spec.Ports {
		errs = append(errs, svcValidatePort(&spec.Ports[i], len(spec.Ports) > 1, names, specPath.Child("ports").Index(i))...)
	}
	errs = append(errs, svcValidatePortSets(svc, specPath.Child("ports"))...)
	if spec.Selector != nil {
		errs = append(errs, metav1validation.ValidateLabels(spec.Selector, specPath.Child("selector"))...)
	}
	errs = append(errs, svcValidateAffinity(spec, specPath)...)
	errs = append(errs, svcValidateClusterIPs(svc, specPath)...)
	for i, ip := range spec.ExternalIPs {
		errs = append(errs, validation.IsValidIP(specPath.Child("externalIPs").Index(i), ip)...)
	}
	errs = append(errs, svcValidateTrafficPolicies(svc, specPath)...)
	return errs
}

// svcValidateType checks spec.type and the fields that depend on it.
func svcValidateType(svc *corev1.Service, specPath *field.Path) field.ErrorList {
	spec := &svc.Spec
	var errs field.ErrorList
	switch {
	case spec.Type == "":
		return append(errs, field.Required(specPath.Child("type"), ""))
	case !slices.Contains(svcTypes, string(spec.Type)):
		return append(errs, field.NotSupported(specPath.Child("type"), spec.Type, svcTypes))
	}
	if svcNeedsNodePorts(spec.Type) && spec.ClusterIP == corev1.ClusterIPNone {
		errs = append(errs, field.Invalid(specPath.Child("clusterIPs").Index(0), spec.ClusterIP,
			fmt.Sprintf("may not be set to 'None' for %s services", spec.Type)))
	}
	if spec.Type == corev1.ServiceTypeExternalName {
		if len(spec.ClusterIPs) > 0 || spec.ClusterIP != "" {
			errs = append(errs, field.Forbidden(specPath.Child("clusterIPs"), "may not be set for ExternalName services"))
		}
		if len(spec.IPFamilies) > 0 {
			errs = append(errs, field.Forbidden(specPath.Child("ipFamilies"), "may not be set for ExternalName services"))
		}
		if spec.IPFamilyPolicy != nil {
			errs = append(errs, field.Forbidden(specPath.Child("ipFamilyPolicy"), "may not be set for ExternalName services"))
		}
		cname := strings.TrimSuffix(spec.ExternalName, ".")
		if cname == "" {
			errs = append(errs, field.Required(specPath.Child("externalName"), ""))
		}
		for _, msg := range validation.IsDNS1123Subdomain(cname) {
			if cname != "" {
				errs = append(errs, field.Invalid(specPath.Child("externalName"), cname, msg))
			}
		}
	}
	return errs
}

// svcValidatePort checks one port: name, port, protocol, targetPort and nodePort.
func svcValidatePort(sp *corev1.ServicePort, requireName bool, names map[string]bool, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if requireName && sp.Name == "" {
		errs = append(errs, field.Required(path.Child("name"), ""))
	} else if sp.Name != "" {
		for _, msg := range validation.IsDNS1123Label(sp.Name) {
			errs = append(errs, field.Invalid(path.Child("name"), sp.Name, msg))
		}
		if names[sp.Name] {
			errs = append(errs, field.Duplicate(path.Child("name"), sp.Name))
		}
		names[sp.Name] = true
	}
	for _, msg := range validation.IsValidPortNum(int(sp.Port)) {
		errs = append(errs, field.Invalid(path.Child("port"), sp.Port, msg))
	}
	if sp.Protocol == "" {
		errs = append(errs, field.Required(path.Child("protocol"), ""))
	} else if !slices.Contains(svcProtocols, string(sp.Protocol)) {
		errs = append(errs, field.NotSupported(path.Child("protocol"), sp.Protocol, svcProtocols))
	}
	errs = append(errs, svcValidatePortNumOrName(sp.TargetPort, path.Child("targetPort"))...)
	if sp.NodePort != 0 && (sp.NodePort < ServiceNodePortMin || sp.NodePort > ServiceNodePortMax) {
		errs = append(errs, field.Invalid(path.Child("nodePort"), sp.NodePort, fmt.Sprintf(
			"provided port is not in the valid range. The range of valid ports is %d-%d", ServiceNodePortMin, ServiceNodePortMax)))
	}
	return errs
}

// svcValidatePortNumOrName checks a port given by number (1-65535) or IANA_SVC_NAME.
func svcValidatePortNumOrName(port intstr.IntOrString, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if port.Type == intstr.Int {
		for _, msg := range validation.IsValidPortNum(port.IntValue()) {
			errs = append(errs, field.Invalid(path, port.IntValue(), msg))
		}
		return errs
	}
	for _, msg := range validation.IsValidPortName(port.StrVal) {
		errs = append(errs, field.Invalid(path, port.StrVal, msg))
	}
	return errs
}

// svcValidatePortSets checks what involves several ports: node ports only where the type
// has them, and no duplicate port or node port for one protocol.
func svcValidatePortSets(svc *corev1.Service, portsPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	type key struct {
		proto corev1.Protocol
		port  int32
	}
	ports, nodePorts := map[key]bool{}, map[key]bool{}
	for i, sp := range svc.Spec.Ports {
		path := portsPath.Index(i)
		if sp.NodePort != 0 && !svcNeedsNodePorts(svc.Spec.Type) && svc.Spec.Type != "" {
			errs = append(errs, field.Forbidden(path.Child("nodePort"),
				fmt.Sprintf("may not be used when `type` is '%s'", svc.Spec.Type)))
		}
		if sp.NodePort != 0 {
			k := key{sp.Protocol, sp.NodePort}
			if nodePorts[k] {
				errs = append(errs, field.Duplicate(path.Child("nodePort"), sp.NodePort))
			}
			nodePorts[k] = true
		}
		k := key{sp.Protocol, sp.Port}
		if ports[k] {
			errs = append(errs, field.Duplicate(path, corev1.ServicePort{Protocol: sp.Protocol, Port: sp.Port}))
		}
		ports[k] = true
	}
	return errs
}

// svcValidateAffinity checks sessionAffinity and its config.
func svcValidateAffinity(spec *corev1.ServiceSpec, specPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	path := specPath.Child("sessionAffinity")
	switch {
	case spec.SessionAffinity == "":
		errs = append(errs, field.Required(path, ""))
	case !slices.Contains(svcAffinities, string(spec.SessionAffinity)):
		errs = append(errs, field.NotSupported(path, spec.SessionAffinity, svcAffinities))
	case spec.SessionAffinity == corev1.ServiceAffinityNone && spec.SessionAffinityConfig != nil:
		errs = append(errs, field.Forbidden(specPath.Child("sessionAffinityConfig"), "must not be set when session affinity is None"))
	case spec.SessionAffinity == corev1.ServiceAffinityClientIP:
		cfgPath := specPath.Child("sessionAffinityConfig")
		c := spec.SessionAffinityConfig
		if c == nil || c.ClientIP == nil || c.ClientIP.TimeoutSeconds == nil {
			return append(errs, field.Required(cfgPath, "when session affinity type is ClientIP"))
		}
		if t := *c.ClientIP.TimeoutSeconds; t <= 0 || t > svcMaxClientIPAffinitySeconds {
			errs = append(errs, field.Invalid(cfgPath.Child("clientIP", "timeoutSeconds"), t,
				fmt.Sprintf("must be greater than 0 and less than %d", svcMaxClientIPAffinitySeconds)))
		}
	}
	return errs
}

// svcValidateClusterIPs checks clusterIP, clusterIPs, ipFamilies and ipFamilyPolicy.
func svcValidateClusterIPs(svc *corev1.Service, specPath *field.Path) field.ErrorList {
	spec := &svc.Spec
	var errs field.ErrorList
	if spec.ClusterIP != "" && spec.ClusterIP != corev1.ClusterIPNone {
		errs = append(errs, validation.IsValidIP(specPath.Child("clusterIP"), spec.ClusterIP)...)
	}
	ipsPath := specPath.Child("clusterIPs")
	if spec.ClusterIP != "" && len(spec.ClusterIPs) > 0 && spec.ClusterIPs[0] != spec.ClusterIP {
		errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "first value must match `clusterIP`"))
	}
	for i, ip := range spec.ClusterIPs {
		if ip == corev1.ClusterIPNone {
			if i > 0 || len(spec.ClusterIPs) > 1 {
				errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "'None' must be the first and only value"))
			}
			continue
		}
		if i > 0 {
			errs = append(errs, validation.IsValidIP(ipsPath.Index(i), ip)...)
		}
	}
	if p := spec.IPFamilyPolicy; p != nil && !slices.Contains(svcFamilyPolicies, string(*p)) {
		errs = append(errs, field.NotSupported(specPath.Child("ipFamilyPolicy"), *p, svcFamilyPolicies))
	}
	seen := map[corev1.IPFamily]bool{}
	for i, f := range spec.IPFamilies {
		path := specPath.Child("ipFamilies").Index(i)
		if !slices.Contains(svcFamilies, string(f)) {
			errs = append(errs, field.NotSupported(path, f, svcFamilies))
		} else if seen[f] {
			errs = append(errs, field.Duplicate(path, f))
		}
		seen[f] = true
	}
	return errs
}

// svcValidateTrafficPolicies checks externalTrafficPolicy, healthCheckNodePort and
// internalTrafficPolicy.
func svcValidateTrafficPolicies(svc *corev1.Service, specPath *field.Path) field.ErrorList {
	spec := &svc.Spec
	var errs field.ErrorList
	etp := specPath.Child("externalTrafficPolicy")
	switch {
	case !svcExternallyAccessible(svc):
		if spec.ExternalTrafficPolicy != "" {
			errs = append(errs, field.Invalid(etp, spec.ExternalTrafficPolicy, "may only be set for externally-accessible services"))
		}
	case spec.ExternalTrafficPolicy == "":
		errs = append(errs, field.Required(etp, ""))
	case !slices.Contains(svcExternalPolicies, string(spec.ExternalTrafficPolicy)):
		errs = append(errs, field.NotSupported(etp, spec.ExternalTrafficPolicy, svcExternalPolicies))
	}
	needsHealthCheck := spec.Type == corev1.ServiceTypeLoadBalancer && spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	if !needsHealthCheck && spec.HealthCheckNodePort != 0 {
		errs = append(errs, field.Invalid(specPath.Child("healthCheckNodePort"), spec.HealthCheckNodePort,
			"may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
	}
	itp := specPath.Child("internalTrafficPolicy")
	if spec.InternalTrafficPolicy == nil {
		if spec.Type != corev1.ServiceTypeExternalName && spec.Type != "" {
			errs = append(errs, field.Required(itp, "must be specified"))
		}
	} else if !slices.Contains(svcInternalPolicies, string(*spec.InternalTrafficPolicy)) {
		errs = append(errs, field.NotSupported(itp, *spec.InternalTrafficPolicy, svcInternalPolicies))
	}
	return errs
}

// svcValidateUpdate checks an update: the cluster IP may not change once set (except to or
// from ExternalName), then the whole new object.
func svcValidateUpdate(svc, old *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	if svc.Spec.Type != corev1.ServiceTypeExternalName && old.Spec.Type != corev1.ServiceTypeExternalName &&
		old.Spec.ClusterIP != "" {
		errs = append(errs, apivalidation.ValidateImmutableField(svc.Spec.ClusterIP, old.Spec.ClusterIP,
			field.NewPath("spec", "clusterIP"))...)
	}
	return append(errs, svcValidate(svc)...)
}

// svcValidateStatus checks a status update: load balancer ingress IPs and host names.
func svcValidateStatus(svc *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	for i, ing := range svc.Status.LoadBalancer.Ingress {
		path := field.NewPath("status", "loadBalancer", "ingress").Index(i)
		if ing.IP != "" {
			errs = append(errs, validation.IsValidIP(path.Child("ip"), ing.IP)...)
		}
		for _, msg := range validation.IsDNS1123Subdomain(ing.Hostname) {
			if ing.Hostname != "" {
				errs = append(errs, field.Invalid(path.Child("hostname"), ing.Hostname, msg))
			}
		}
	}
	return errs
}
