package registry

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Kubernetes' limits of an EndpointSlice (pkg/apis/discovery/validation).
const (
	esMaxEndpoints      = 1000
	esMaxAddresses      = 100
	esMaxPorts          = 20000
	esMaxTopologyLabels = 16
)

var esAddressTypes = []string{string(discoveryv1.AddressTypeFQDN), string(discoveryv1.AddressTypeIPv4), string(discoveryv1.AddressTypeIPv6)}

// endpointSliceResource describes the discovery.k8s.io/v1 endpointslices resource.
func endpointSliceResource() *Resource {
	return &Resource{
		Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices", Kind: "EndpointSlice",
		SingularName: "endpointslice", Namespaced: true,
		New:            func() runtime.Object { return &discoveryv1.EndpointSlice{} },
		NewList:        func() runtime.Object { return &discoveryv1.EndpointSliceList{} },
		NameValidation: apivalidation.NameIsDNSSubdomain,
		Default:        func(obj runtime.Object) { esDefault(obj.(*discoveryv1.EndpointSlice)) },
		Validate:       func(obj runtime.Object) field.ErrorList { return esValidate(obj.(*discoveryv1.EndpointSlice)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			n, o := obj.(*discoveryv1.EndpointSlice), old.(*discoveryv1.EndpointSlice)
			errs := esValidate(n)
			return append(errs, apivalidation.ValidateImmutableField(n.AddressType, o.AddressType, field.NewPath("addressType"))...)
		},
		Table: esTable(),
	}
}

// esDefault is v1's SetDefaults_EndpointPort: an unnamed port's name is "", its protocol TCP.
func esDefault(es *discoveryv1.EndpointSlice) {
	for i := range es.Ports {
		p := &es.Ports[i]
		if p.Name == nil {
			empty := ""
			p.Name = &empty
		}
		if p.Protocol == nil {
			tcp := corev1.ProtocolTCP
			p.Protocol = &tcp
		}
	}
}

// esValidate is Kubernetes' ValidateEndpointSlice.
func esValidate(es *discoveryv1.EndpointSlice) field.ErrorList {
	var errs field.ErrorList
	atPath := field.NewPath("addressType")
	switch {
	case es.AddressType == "":
		errs = append(errs, field.Required(atPath, ""))
	case !slices.Contains(esAddressTypes, string(es.AddressType)):
		errs = append(errs, field.NotSupported(atPath, es.AddressType, esAddressTypes))
	}
	errs = append(errs, esValidateEndpoints(es.Endpoints, es.AddressType, field.NewPath("endpoints"))...)
	return append(errs, esValidatePorts(es.Ports, field.NewPath("ports"))...)
}

func esValidateEndpoints(eps []discoveryv1.Endpoint, at discoveryv1.AddressType, fldPath *field.Path) field.ErrorList {
	if len(eps) > esMaxEndpoints {
		return field.ErrorList{field.TooMany(fldPath, len(eps), esMaxEndpoints)}
	}
	var errs field.ErrorList
	for i := range eps {
		ep := &eps[i]
		p := fldPath.Index(i)
		ap := p.Child("addresses")
		if len(ep.Addresses) == 0 {
			errs = append(errs, field.Required(ap, "must contain at least 1 address"))
		} else if len(ep.Addresses) > esMaxAddresses {
			errs = append(errs, field.TooMany(ap, len(ep.Addresses), esMaxAddresses))
		}
		for j, a := range ep.Addresses {
			switch at {
			case discoveryv1.AddressTypeIPv4:
				if e := validation.IsValidIPv4Address(ap.Index(j), a); len(e) > 0 {
					errs = append(errs, e...)
				} else {
					errs = append(errs, endpointIPErrors(ap.Index(j), a)...)
				}
			case discoveryv1.AddressTypeIPv6:
				if e := validation.IsValidIPv6Address(ap.Index(j), a); len(e) > 0 {
					errs = append(errs, e...)
				} else {
					errs = append(errs, endpointIPErrors(ap.Index(j), a)...)
				}
			case discoveryv1.AddressTypeFQDN:
				errs = append(errs, validation.IsFullyQualifiedDomainName(ap.Index(j), a)...)
			}
		}
		if ep.NodeName != nil {
			for _, msg := range apivalidation.NameIsDNSSubdomain(*ep.NodeName, false) {
				errs = append(errs, field.Invalid(p.Child("nodeName"), *ep.NodeName, msg))
			}
		}
		tp := p.Child("deprecatedTopology")
		if len(ep.DeprecatedTopology) > esMaxTopologyLabels {
			errs = append(errs, field.TooMany(tp, len(ep.DeprecatedTopology), esMaxTopologyLabels))
		}
		errs = append(errs, metav1validation.ValidateLabels(ep.DeprecatedTopology, tp)...)
		if ep.Hostname != nil {
			for _, msg := range validation.IsDNS1123Label(*ep.Hostname) {
				errs = append(errs, field.Invalid(p.Child("hostname"), *ep.Hostname, msg))
			}
		}
	}
	return errs
}

func esValidatePorts(ports []discoveryv1.EndpointPort, fldPath *field.Path) field.ErrorList {
	if len(ports) > esMaxPorts {
		return field.ErrorList{field.TooMany(fldPath, len(ports), esMaxPorts)}
	}
	var errs field.ErrorList
	names := map[string]bool{}
	protocols := []string{string(corev1.ProtocolSCTP), string(corev1.ProtocolTCP), string(corev1.ProtocolUDP)}
	for i, port := range ports {
		p := fldPath.Index(i)
		name := ""
		if port.Name != nil {
			name = *port.Name
		}
		if name != "" {
			for _, msg := range validation.IsDNS1123Label(name) {
				errs = append(errs, field.Invalid(p.Child("name"), name, msg))
			}
		}
		if names[name] {
			errs = append(errs, field.Duplicate(p.Child("name"), name))
		}
		names[name] = true
		switch {
		case port.Protocol == nil:
			errs = append(errs, field.Required(p.Child("protocol"), ""))
		case !slices.Contains(protocols, string(*port.Protocol)):
			errs = append(errs, field.NotSupported(p.Child("protocol"), *port.Protocol, protocols))
		}
		if port.AppProtocol != nil {
			for _, msg := range validation.IsQualifiedName(*port.AppProtocol) {
				errs = append(errs, field.Invalid(p.Child("appProtocol"), *port.AppProtocol, msg))
			}
		}
	}
	return errs
}

// esTable prints endpoint slices as kubectl does: NAME ADDRESSTYPE PORTS ENDPOINTS AGE.
func esTable() *Table {
	doc := discoveryv1.EndpointSlice{}.SwaggerDoc()
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("AddressType", "string", doc["addressType"], 0),
			column("Ports", "string", doc["ports"], 0),
			column("Endpoints", "string", doc["endpoints"], 0),
			ageColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			es, ok := obj.(*discoveryv1.EndpointSlice)
			if !ok {
				return nil, fmt.Errorf("endpointslice table: unexpected object %T", obj)
			}
			var ports, addrs []string
			for _, p := range es.Ports {
				switch {
				case p.Port != nil:
					ports = append(ports, strconv.Itoa(int(*p.Port)))
				case p.Name != nil:
					ports = append(ports, *p.Name)
				default:
					ports = append(ports, "*")
				}
			}
			for _, ep := range es.Endpoints {
				addrs = append(addrs, ep.Addresses...)
			}
			return []interface{}{es.Name, string(es.AddressType), esListWithMore(ports), esListWithMore(addrs),
				translateTimestampSince(es.CreationTimestamp)}, nil
		},
	}
}

// esListWithMore is kubectl's listWithMoreString over at most three items: "<unset>" when empty.
func esListWithMore(list []string) string {
	const max = 3
	if len(list) > max {
		return fmt.Sprintf("%s + %d more...", strings.Join(list[:max], ","), len(list)-max)
	}
	if len(list) == 0 {
		return "<unset>"
	}
	return strings.Join(list, ",")
}
