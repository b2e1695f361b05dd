package registry

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
)

func TestEndpointSliceValidate(t *testing.T) {
	tests := []struct {
		name string
		es   discoveryv1.EndpointSlice
		want []string
	}{
		{"ok", discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"172.17.0.2"}, NodeName: ptr.To("n1")}},
			Ports:     []discoveryv1.EndpointPort{{Port: ptr.To[int32](80)}}}, nil},
		{"no address type", discoveryv1.EndpointSlice{}, []string{"addressType: Required value"}},
		{"bad address type", discoveryv1.EndpointSlice{AddressType: "IPv5"},
			[]string{`addressType: Unsupported value: "IPv5": supported values: "FQDN", "IPv4", "IPv6"`}},
		{"addresses", discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints: []discoveryv1.Endpoint{{}, {Addresses: []string{"::1"}}, {Addresses: []string{"127.0.0.1"}}}},
			[]string{"endpoints[0].addresses: Required value: must contain at least 1 address",
				`endpoints[1].addresses[0]: Invalid value: "::1": must be a valid IPv4 address`,
				`endpoints[2].addresses[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)`}},
		{"ports", discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv4,
			Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http")}, {Name: ptr.To("http"), Protocol: ptr.To(corev1.Protocol("ICMP"))}}},
			[]string{`ports[1].name: Duplicate value: "http"`,
				`ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			esDefault(&tt.es)
			if diff := cmp.Diff(tt.want, metaErrStrings(esValidate(&tt.es))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEndpointSliceTableAndDefaults(t *testing.T) {
	es := &discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{{Port: ptr.To[int32](80)}, {Name: ptr.To("dns")}}}
	for i := 1; i <= 4; i++ {
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{"10.0.0." + string(rune('0'+i))}})
	}
	esDefault(es)
	if *es.Ports[0].Name != "" || *es.Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("port defaults: %+v", es.Ports[0])
	}
	es.Name = "web-abc"
	row, err := esTable().Row(es)
	if err != nil {
		t.Fatal(err)
	}
	want := []interface{}{"web-abc", "IPv4", "80,dns", "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...", "<unknown>"}
	if diff := cmp.Diff(want, row); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
	empty, _ := esTable().Row(&discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv4})
	if empty[2] != "<unset>" || empty[3] != "<unset>" {
		t.Errorf("empty slice row %v", empty)
	}
}

func TestRuntimeClassValidate(t *testing.T) {
	tests := []struct {
		name string
		rc   nodev1.RuntimeClass
		want []string
	}{
		{"ok", nodev1.RuntimeClass{Handler: "runc"}, nil},
		{"bad handler", nodev1.RuntimeClass{Handler: "Run_C"},
			[]string{`handler: Invalid value: "Run_C": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`}},
		{"overhead and scheduling", nodev1.RuntimeClass{Handler: "runc",
			Overhead: &nodev1.Overhead{PodFixed: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("-1")}},
			Scheduling: &nodev1.Scheduling{Tolerations: []corev1.Toleration{
				{Key: "a", Operator: corev1.TolerationOpExists}, {Key: "a", Operator: corev1.TolerationOpExists}}}},
			[]string{`overhead.podFixed[cpu]: Invalid value: "-1": must be greater than or equal to 0`,
				`scheduling.tolerations[1]: Duplicate value: v1.Toleration{Key:"a", Operator:"Exists", Value:"", Effect:"", TolerationSeconds:(*int64)(nil)}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, metaErrStrings(rcsValidate(&tt.rc))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}
