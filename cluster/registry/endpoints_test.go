package registry

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestEndpointsValidate(t *testing.T) {
	bad := "Node_1"
	tests := []struct {
		name string
		ss   corev1.EndpointSubset
		want []string
	}{
		{"ok", corev1.EndpointSubset{Addresses: []corev1.EndpointAddress{{IP: "172.17.0.2"}}, Ports: []corev1.EndpointPort{{Port: 8080}}}, nil},
		{"no addresses", corev1.EndpointSubset{}, []string{"subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`"}},
		{"bad ip", corev1.EndpointSubset{NotReadyAddresses: []corev1.EndpointAddress{{IP: "1.2.3"}}},
			[]string{`subsets[0].notReadyAddresses[0].ip: Invalid value: "1.2.3": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`}},
		{"loopback", corev1.EndpointSubset{Addresses: []corev1.EndpointAddress{{IP: "127.0.0.1"}}},
			[]string{`subsets[0].addresses[0].ip: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)`}},
		{"bad node name", corev1.EndpointSubset{Addresses: []corev1.EndpointAddress{{IP: "10.0.0.1", NodeName: &bad}}},
			[]string{`subsets[0].addresses[0].nodeName: Invalid value: "Node_1": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`}},
		{"ports", corev1.EndpointSubset{Addresses: []corev1.EndpointAddress{{IP: "10.0.0.1"}},
			Ports: []corev1.EndpointPort{{Name: "http", Port: 0}, {Port: 80, Protocol: "ICMP"}}},
			[]string{"subsets[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
				"subsets[0].ports[1].name: Required value",
				`subsets[0].ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{tt.ss}}
			epDefault(ep)
			if diff := cmp.Diff(tt.want, metaErrStrings(epValidate(ep))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEndpointsTable(t *testing.T) {
	addrs := func(ips ...string) []corev1.EndpointAddress {
		var out []corev1.EndpointAddress
		for _, ip := range ips {
			out = append(out, corev1.EndpointAddress{IP: ip})
		}
		return out
	}
	tests := []struct {
		name    string
		subsets []corev1.EndpointSubset
		want    string
	}{
		{"none", nil, "<none>"},
		{"only not ready", []corev1.EndpointSubset{{NotReadyAddresses: addrs("10.0.0.1")}}, "<none>"},
		{"two", []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1"), Ports: []corev1.EndpointPort{{Port: 8080}, {Port: 50000}}}},
			"10.0.0.1:8080,10.0.0.1:50000"},
		{"headless", []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2")}}, "10.0.0.1,10.0.0.2"},
		{"more", []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"),
			Ports: []corev1.EndpointPort{{Port: 80}}}}, "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := epTable().Row(&corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "jenkins"}, Subsets: tt.subsets})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]interface{}{"jenkins", tt.want, "<unknown>"}, got); diff != "" {
				t.Errorf("row (-want +got):\n%s", diff)
			}
		})
	}
}
