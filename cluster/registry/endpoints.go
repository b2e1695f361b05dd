package registry

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// epResource describes the endpoints resource.
func epResource() *Resource {
	return &Resource{
		Version: "v1", Resource: "endpoints", Kind: "Endpoints", SingularName: "endpoints",
		ShortNames: []string{"ep"}, Namespaced: true,
		New:            func() runtime.Object { return &corev1.Endpoints{} },
		NewList:        func() runtime.Object { return &corev1.EndpointsList{} },
		NameValidation: apivalidation.NameIsDNSSubdomain,
		Default:        func(obj runtime.Object) { epDefault(obj.(*corev1.Endpoints)) },
		Validate:       func(obj runtime.Object) field.ErrorList { return epValidate(obj.(*corev1.Endpoints)) },
		ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList { return epValidate(obj.(*corev1.Endpoints)) },
		Table:          epTable(),
	}
}

// epDefault sets port protocols to TCP.
func epDefault(ep *corev1.Endpoints) {
	for i := range ep.Subsets {
		for j := range ep.Subsets[i].Ports {
			if ep.Subsets[i].Ports[j].Protocol == "" {
				ep.Subsets[i].Ports[j].Protocol = corev1.ProtocolTCP
			}
		}
	}
}

// epValidate checks every subset: some address, valid (non-special) IPs, valid ports.
func epValidate(ep *corev1.Endpoints) field.ErrorList {
	var errs field.ErrorList
	for i := range ep.Subsets {
		ss := &ep.Subsets[i]
		path := field.NewPath("subsets").Index(i)
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			errs = append(errs, field.Required(path, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j := range ss.Addresses {
			errs = append(errs, epValidateAddress(&ss.Addresses[j], path.Child("addresses").Index(j))...)
		}
		for j := range ss.NotReadyAddresses {
			errs = append(errs, epValidateAddress(&ss.NotReadyAddresses[j], path.Child("notReadyAddresses").Index(j))...)
		}
		for j := range ss.Ports {
			errs = append(errs, epValidatePort(&ss.Ports[j], len(ss.Ports) > 1, path.Child("ports").Index(j))...)
		}
	}
	return errs
}

// epValidateAddress checks ip (valid and not unspecified, loopback or link-local),
// hostname (DNS label) and nodeName (DNS subdomain).
func epValidateAddress(a *corev1.EndpointAddress, path *field.Path) field.ErrorList {
	ipPath := path.Child("ip")
	errs := validation.IsValidIP(ipPath, a.IP)
	errs = append(errs, endpointIPErrors(ipPath, a.IP)...)
	if a.Hostname != "" {
		for _, msg := range validation.IsDNS1123Label(a.Hostname) {
			errs = append(errs, field.Invalid(path.Child("hostname"), a.Hostname, msg))
		}
	}
	if a.NodeName != nil {
		for _, msg := range validation.IsDNS1123Subdomain(*a.NodeName) {
			errs = append(errs, field.Invalid(path.Child("nodeName"), *a.NodeName, msg))
		}
	}
	return errs
}

// endpointIPErrors is Kubernetes' ValidateEndpointIP for a parsable address: no unspecified,
// loopback, link-local or link-local multicast addresses.
func endpointIPErrors(ipPath *field.Path, addr string) field.ErrorList {
	ip := net.ParseIP(addr)
	switch {
	case ip == nil:
		return nil
	case ip.IsUnspecified():
		return field.ErrorList{field.Invalid(ipPath, addr, fmt.Sprintf("may not be unspecified (%v)", addr))}
	case ip.IsLoopback():
		return field.ErrorList{field.Invalid(ipPath, addr, "may not be in the loopback range (127.0.0.0/8, ::1/128)")}
	case ip.IsLinkLocalUnicast():
		return field.ErrorList{field.Invalid(ipPath, addr, "may not be in the link-local range (169.254.0.0/16, fe80::/10)")}
	case ip.IsLinkLocalMulticast():
		return field.ErrorList{field.Invalid(ipPath, addr, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")}
	}
	return nil
}

// epValidatePort checks name (required when several), port number and protocol.
func epValidatePort(p *corev1.EndpointPort, requireName bool, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if requireName && p.Name == "" {
		errs = append(errs, field.Required(path.Child("name"), ""))
	} else if p.Name != "" {
		for _, msg := range validation.IsDNS1123Label(p.Name) {
			errs = append(errs, field.Invalid(path.Child("name"), p.Name, msg))
		}
	}
	for _, msg := range validation.IsValidPortNum(int(p.Port)) {
		errs = append(errs, field.Invalid(path.Child("port"), p.Port, msg))
	}
	if p.Protocol == "" {
		errs = append(errs, field.Required(path.Child("protocol"), ""))
	} else if !slices.Contains(svcProtocols, string(p.Protocol)) {
		errs = append(errs, field.NotSupported(path.Child("protocol"), p.Protocol, svcProtocols))
	}
	return errs
}

// epTable prints endpoints: NAME ENDPOINTS AGE.
func epTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("Endpoints", "string", corev1.Endpoints{}.SwaggerDoc()["subsets"], 0),
			ageColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			ep, ok := obj.(*corev1.Endpoints)
			if !ok {
				return nil, fmt.Errorf("endpoints table: unexpected object %T", obj)
			}
			return []interface{}{ep.Name, epFormat(ep), translateTimestampSince(ep.CreationTimestamp)}, nil
		},
	}
}

// epFormat renders up to three ready endpoints as kubectl does: "10.0.0.1:8080,... + N more...".
func epFormat(ep *corev1.Endpoints) string {
	const max = 3
	var list []string
	count := 0
	add := func(s string) {
		count++
		if len(list) < max {
			list = append(list, s)
		}
	}
	for _, ss := range ep.Subsets {
		if len(ss.Ports) == 0 {
			for _, a := range ss.Addresses {
				add(a.IP)
			}
			continue
		}
		for _, p := range ss.Ports {
			for _, a := range ss.Addresses {
				add(net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	ret := strings.Join(list, ",")
	if count > max {
		return fmt.Sprintf("%s + %d more...", ret, count-max)
	}
	return stringOrNone(ret)
}
