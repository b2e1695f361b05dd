package registry

import (
	"fmt"
	"sort"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

// NetworkingGroup is the API group of Ingress and IngressClass.
const NetworkingGroup = networkingv1.GroupName

// ingressClassAnnotation is the deprecated kubernetes.io/ingress.class annotation, the
// predecessor of spec.ingressClassName.
const ingressClassAnnotation = "kubernetes.io/ingress.class"

// ingressResource describes the networking.k8s.io/v1 ingresses resource. drover runs no
// ingress controller: an Ingress is stored, validated and watched as in Kubernetes, and routes
// nothing until a controller (run as an ordinary pod) acts on it and writes its status.
func ingressResource() *Resource {
	return &Resource{
		Group: NetworkingGroup, Version: "v1", Resource: "ingresses", Kind: "Ingress", SingularName: "ingress",
		ShortNames: []string{"ing"},
		Namespaced: true, Subresources: []string{"status"}, HasStatus: true,
		New:     func() runtime.Object { return &networkingv1.Ingress{} },
		NewList: func() runtime.Object { return &networkingv1.IngressList{} },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*networkingv1.Ingress).Status = networkingv1.IngressStatus{}
		},
		Validate: func(obj runtime.Object) field.ErrorList { return ingressValidateCreate(obj.(*networkingv1.Ingress)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return ingressValidateUpdate(obj.(*networkingv1.Ingress), old.(*networkingv1.Ingress))
		},
		ValidateStatusUpdate: func(obj, _ runtime.Object) field.ErrorList {
			return ingressValidateLoadBalancerStatus(&obj.(*networkingv1.Ingress).Status.LoadBalancer, field.NewPath("status", "loadBalancer"))
		},
		Table: ingressTable(),
	}
}

// ingressOptions are Kubernetes' IngressValidationOptions: an update may keep what an older
// server let in (an invalid TLS secret name, rules of a wildcard host not validated).
type ingressOptions struct {
	allowInvalidSecretName       bool
	allowInvalidWildcardHostRule bool
}

var (
	ingressPathTypes            = []string{string(networkingv1.PathTypeExact), string(networkingv1.PathTypeImplementationSpecific), string(networkingv1.PathTypePrefix)}
	ingressInvalidPathSequences = []string{"//", "/./", "/../", "%2f", "%2F"}
	ingressInvalidPathSuffixes  = []string{"/..", "/."}
)

// ingressValidateCreate is Kubernetes' ValidateIngressCreate: the spec, and the deprecated
// class annotation agreeing with spec.ingressClassName when both are given.
func ingressValidateCreate(ing *networkingv1.Ingress) field.ErrorList {
	errs := ingressValidateSpec(&ing.Spec, field.NewPath("spec"), ingressOptions{})
	if v, ok := ing.Annotations[ingressClassAnnotation]; ok && ing.Spec.IngressClassName != nil && v != *ing.Spec.IngressClassName {
		errs = append(errs, field.Invalid(field.NewPath("annotations").Child(ingressClassAnnotation), v, "must match `ingressClassName` when both are specified"))
	}
	return errs
}

// ingressValidateUpdate is Kubernetes' ValidateIngressUpdate.
func ingressValidateUpdate(ing, old *networkingv1.Ingress) field.ErrorList {
	opts := ingressOptions{}
	for _, tls := range old.Spec.TLS {
		if len(ingressValidateTLSSecretName(tls.SecretName)) > 0 {
			opts.allowInvalidSecretName = true
		}
	}
	for _, rule := range old.Spec.Rules {
		if strings.Contains(rule.Host, "*") && len(ingressValidateRuleValue(&rule.IngressRuleValue, nil, ingressOptions{})) > 0 {
			opts.allowInvalidWildcardHostRule = true
		}
	}
	return ingressValidateSpec(&ing.Spec, field.NewPath("spec"), opts)
}

// ingressValidateSpec is Kubernetes' ValidateIngressSpec: a default backend or rules, each
// backend a service (name and port name or number) or a resource, TLS hosts DNS names (with
// wildcards) and secret names, the class name a DNS subdomain.
func ingressValidateSpec(spec *networkingv1.IngressSpec, p *field.Path, opts ingressOptions) field.ErrorList {
	var errs field.ErrorList
	if len(spec.Rules) == 0 && spec.DefaultBackend == nil {
		errs = append(errs, field.Invalid(p, spec.Rules, "either `defaultBackend` or `rules` must be specified"))
	}
	if spec.DefaultBackend != nil {
		errs = append(errs, ingressValidateBackend(spec.DefaultBackend, p.Child("defaultBackend"))...)
	}
	if len(spec.Rules) > 0 {
		errs = append(errs, ingressValidateRules(spec.Rules, p.Child("rules"), opts)...)
	}
	tp := p.Child("tls")
	for i, tls := range spec.TLS {
		for j, host := range tls.Hosts {
			msgs := validation.IsDNS1123Subdomain(host)
			if strings.Contains(host, "*") {
				msgs = validation.IsWildcardDNS1123Subdomain(host)
			}
			for _, msg := range msgs {
				errs = append(errs, field.Invalid(tp.Index(i).Child("hosts").Index(j), host, msg))
			}
		}
		if !opts.allowInvalidSecretName {
			for _, msg := range ingressValidateTLSSecretName(tls.SecretName) {
				errs = append(errs, field.Invalid(tp.Index(i).Child("secretName"), tls.SecretName, msg))
			}
		}
	}
	if spec.IngressClassName != nil {
		for _, msg := range apivalidation.NameIsDNSSubdomain(*spec.IngressClassName, false) {
			errs = append(errs, field.Invalid(p.Child("ingressClassName"), *spec.IngressClassName, msg))
		}
	}
	return errs
}

func ingressValidateTLSSecretName(name string) []string {
	if name == "" {
		return nil
	}
	return apivalidation.NameIsDNSSubdomain(name, false)
}

// ingressValidateRules checks each rule's host (a DNS name, not an IP; a wildcard only as the
// first label) and its HTTP paths.
func ingressValidateRules(rules []networkingv1.IngressRule, p *field.Path, opts ingressOptions) field.ErrorList {
	var errs field.ErrorList
	for i, rule := range rules {
		wildcard := false
		if rule.Host != "" {
			hp := p.Index(i).Child("host")
			if netutils.ParseIPSloppy(rule.Host) != nil {
				errs = append(errs, field.Invalid(hp, rule.Host, "must be a DNS name, not an IP address"))
			}
			msgs := validation.IsDNS1123Subdomain(rule.Host)
			if strings.Contains(rule.Host, "*") {
				msgs, wildcard = validation.IsWildcardDNS1123Subdomain(rule.Host), true
			}
			for _, msg := range msgs {
				errs = append(errs, field.Invalid(hp, rule.Host, msg))
			}
		}
		if !wildcard || !opts.allowInvalidWildcardHostRule {
			errs = append(errs, ingressValidateRuleValue(&rule.IngressRuleValue, p.Index(i), opts)...)
		}
	}
	return errs
}

func ingressValidateRuleValue(v *networkingv1.IngressRuleValue, p *field.Path, _ ingressOptions) field.ErrorList {
	if v.HTTP == nil {
		return nil
	}
	var errs field.ErrorList
	hp := p.Child("http")
	if len(v.HTTP.Paths) == 0 {
		errs = append(errs, field.Required(hp.Child("paths"), ""))
	}
	for i := range v.HTTP.Paths {
		errs = append(errs, ingressValidatePath(&v.HTTP.Paths[i], hp.Child("paths").Index(i))...)
	}
	return errs
}

// ingressValidatePath: pathType is required; Exact and Prefix paths are absolute and clean,
// an ImplementationSpecific path absolute when given.
func ingressValidatePath(hp *networkingv1.HTTPIngressPath, p *field.Path) field.ErrorList {
	if hp.PathType == nil {
		return field.ErrorList{field.Required(p.Child("pathType"), "pathType must be specified")}
	}
	var errs field.ErrorList
	pp := p.Child("path")
	switch *hp.PathType {
	case networkingv1.PathTypeExact, networkingv1.PathTypePrefix:
		if !strings.HasPrefix(hp.Path, "/") {
			errs = append(errs, field.Invalid(pp, hp.Path, "must be an absolute path"))
		}
		if hp.Path != "" {
			for _, seq := range ingressInvalidPathSequences {
				if strings.Contains(hp.Path, seq) {
					errs = append(errs, field.Invalid(pp, hp.Path, fmt.Sprintf("must not contain '%s'", seq)))
				}
			}
			for _, suffix := range ingressInvalidPathSuffixes {
				if strings.HasSuffix(hp.Path, suffix) {
					errs = append(errs, field.Invalid(pp, hp.Path, fmt.Sprintf("cannot end with '%s'", suffix)))
				}
			}
		}
	case networkingv1.PathTypeImplementationSpecific:
		if hp.Path != "" && !strings.HasPrefix(hp.Path, "/") {
			errs = append(errs, field.Invalid(pp, hp.Path, "must be an absolute path"))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("pathType"), *hp.PathType, ingressPathTypes))
	}
	return append(errs, ingressValidateBackend(&hp.Backend, p.Child("backend"))...)
}

// ingressValidateBackend: a service (a DNS-1035 name, and a port name or number, not both)
// or a typed resource reference, exactly one of them.
func ingressValidateBackend(b *networkingv1.IngressBackend, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case b.Resource != nil && b.Service != nil:
		return field.ErrorList{field.Invalid(p, "", "cannot set both resource and service backends")}
	case b.Resource != nil:
		rp := p.Child("resource")
		if g := b.Resource.APIGroup; g != nil {
			for _, msg := range validation.IsDNS1123Subdomain(*g) {
				errs = append(errs, field.Invalid(rp.Child("apiGroup"), *g, msg))
			}
		}
		errs = append(errs, ingressValidatePathSegment(b.Resource.Kind, rp.Child("kind"), "kind is required")...)
		errs = append(errs, ingressValidatePathSegment(b.Resource.Name, rp.Child("name"), "name is required")...)
	case b.Service != nil:
		sp := p.Child("service")
		if b.Service.Name == "" {
			errs = append(errs, field.Required(sp.Child("name"), ""))
		} else {
			for _, msg := range apivalidation.NameIsDNS1035Label(b.Service.Name, false) {
				errs = append(errs, field.Invalid(sp.Child("name"), b.Service.Name, msg))
			}
		}
		port := b.Service.Port
		switch {
		case port.Name != "" && port.Number != 0:
			errs = append(errs, field.Invalid(p, "", "cannot set both port name & port number"))
		case port.Name != "":
			for _, msg := range validation.IsValidPortName(port.Name) {
				errs = append(errs, field.Invalid(sp.Child("port", "name"), port.Name, msg))
			}
		case port.Number != 0:
			for _, msg := range validation.IsValidPortNum(int(port.Number)) {
				errs = append(errs, field.Invalid(sp.Child("port", "number"), port.Number, msg))
			}
		default:
			errs = append(errs, field.Required(p, "port name or number is required"))
		}
	default:
		errs = append(errs, field.Invalid(p, "", "resource or service backend is required"))
	}
	return errs
}

// ingressValidatePathSegment checks a required kind or name of a typed reference.
func ingressValidatePathSegment(v string, p *field.Path, required string) field.ErrorList {
	if v == "" {
		return field.ErrorList{field.Required(p, required)}
	}
	var errs field.ErrorList
	for _, msg := range path.IsValidPathSegmentName(v) {
		errs = append(errs, field.Invalid(p, v, msg))
	}
	return errs
}

// ingressValidateLoadBalancerStatus is Kubernetes' ValidateIngressLoadBalancerStatus: IPs
// valid, host names DNS names and not IPs.
func ingressValidateLoadBalancerStatus(st *networkingv1.IngressLoadBalancerStatus, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, ing := range st.Ingress {
		ip := p.Child("ingress").Index(i)
		if ing.IP != "" {
			errs = append(errs, validation.IsValidIP(ip.Child("ip"), ing.IP)...)
		}
		if ing.Hostname != "" {
			for _, msg := range validation.IsDNS1123Subdomain(ing.Hostname) {
				errs = append(errs, field.Invalid(ip.Child("hostname"), ing.Hostname, msg))
			}
			if netutils.ParseIPSloppy(ing.Hostname) != nil {
				errs = append(errs, field.Invalid(ip.Child("hostname"), ing.Hostname, "must be a DNS name, not an IP address"))
			}
		}
	}
	return errs
}

// ingressTable prints ingresses as Kubernetes' printIngress: NAME CLASS HOSTS ADDRESS PORTS AGE.
func ingressTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("Class", "string", "The name of the IngressClass resource that should be used for additional configuration", 0),
			column("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule", 0),
			column("Address", "string", "Address is a list containing ingress points for the load-balancer", 0),
			column("Ports", "string", "Ports of TLS configurations that open", 0),
			ageColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			ing, ok := obj.(*networkingv1.Ingress)
			if !ok {
				return nil, fmt.Errorf("ingress table: unexpected object %T", obj)
			}
			class := "<none>"
			if ing.Spec.IngressClassName != nil {
				class = *ing.Spec.IngressClassName
			}
			ports := "80"
			if len(ing.Spec.TLS) > 0 {
				ports = "80, 443"
			}
			return []interface{}{ing.Name, class, ingressHosts(ing.Spec.Rules), ingressAddress(ing.Status.LoadBalancer),
				ports, translateTimestampSince(ing.CreationTimestamp)}, nil
		},
	}
}

// ingressHosts is kubectl's formatHosts: up to three hosts, "*" for none.
func ingressHosts(rules []networkingv1.IngressRule) string {
	const max = 3
	var list []string
	more := false
	for _, rule := range rules {
		if len(list) == max {
			more = true
		}
		if !more && rule.Host != "" {
			list = append(list, rule.Host)
		}
	}
	if len(list) == 0 {
		return "*"
	}
	s := strings.Join(list, ",")
	if more {
		return fmt.Sprintf("%s + %d more...", s, len(rules)-max)
	}
	return s
}

// ingressAddress is Kubernetes' ingressLoadBalancerStatusStringer as the API server calls it
// (wide, so never cut): the sorted, distinct IPs (or host names).
func ingressAddress(st networkingv1.IngressLoadBalancerStatus) string {
	seen := map[string]bool{}
	var list []string
	for _, ing := range st.Ingress {
		a := ing.IP
		if a == "" {
			a = ing.Hostname
		}
		if a != "" && !seen[a] {
			seen[a] = true
			list = append(list, a)
		}
	}
	sort.Strings(list)
	return strings.Join(list, ",")
}
