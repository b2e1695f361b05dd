package registry

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// svcTestService returns a valid, defaulted ClusterIP service with one port.
func svcTestService(mutate func(*corev1.Service)) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "jenkins", Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"name": "jenkins"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 8080}},
		},
	}
	if mutate != nil {
		mutate(svc)
	}
	svcDefault(svc)
	return svc
}

func TestServiceDefaults(t *testing.T) {
	svc := &corev1.Service{Spec: corev1.ServiceSpec{
		Type:  corev1.ServiceTypeNodePort,
		Ports: []corev1.ServicePort{{Port: 8080}, {Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")}},
	}}
	svcDefault(svc)
	cluster := corev1.ServiceInternalTrafficPolicyCluster
	single := corev1.IPFamilyPolicySingleStack
	want := corev1.ServiceSpec{
		Type:            corev1.ServiceTypeNodePort,
		SessionAffinity: corev1.ServiceAffinityNone,
		Ports: []corev1.ServicePort{
			{Port: 8080, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)},
			{Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")},
		},
		ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster,
		InternalTrafficPolicy: &cluster,
		IPFamilyPolicy:        &single,
		IPFamilies:            []corev1.IPFamily{corev1.IPv4Protocol},
	}
	if diff := cmp.Diff(want, svc.Spec); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestServiceDefaultsHeadlessAndClusterIPs(t *testing.T) {
	headless := svcTestService(func(s *corev1.Service) { s.Spec.ClusterIP = "None" })
	if headless.Spec.IPFamilyPolicy != nil || len(headless.Spec.IPFamilies) != 0 {
		t.Errorf("headless got ip families %v/%v", headless.Spec.IPFamilyPolicy, headless.Spec.IPFamilies)
	}
	if diff := cmp.Diff([]string{"None"}, headless.Spec.ClusterIPs); diff != "" {
		t.Errorf("clusterIPs (-want +got):\n%s", diff)
	}
	fromIPs := svcTestService(func(s *corev1.Service) { s.Spec.ClusterIPs = []string{"10.96.0.5"} })
	if fromIPs.Spec.ClusterIP != "10.96.0.5" {
		t.Errorf("clusterIP = %q, want 10.96.0.5", fromIPs.Spec.ClusterIP)
	}
	clusterIP := svcTestService(nil)
	if clusterIP.Spec.ExternalTrafficPolicy != "" {
		t.Errorf("ClusterIP service got externalTrafficPolicy %q", clusterIP.Spec.ExternalTrafficPolicy)
	}
	ext := svcTestService(func(s *corev1.Service) {
		s.Spec.Type, s.Spec.ExternalName, s.Spec.Ports = corev1.ServiceTypeExternalName, "example.com", nil
	})
	if ext.Spec.InternalTrafficPolicy != nil || ext.Spec.IPFamilyPolicy != nil {
		t.Errorf("ExternalName service got traffic/family defaults: %+v", ext.Spec)
	}
}

func TestServiceValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*corev1.Service)
		want   []string
	}{
		{"valid", nil, nil},
		{"headless without ports", func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.Ports = "None", nil }, nil},
		{"no ports", func(s *corev1.Service) { s.Spec.Ports = nil }, []string{"spec.ports: Required value"}},
		{"port out of range", func(s *corev1.Service) { s.Spec.Ports[0].Port = 70000 },
			[]string{"spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
				"spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive"}},
		{"name required with two ports", func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Port: 50000})
		}, []string{"spec.ports[1].name: Required value"}},
		{"duplicate name", func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "http", Port: 50000})
		}, []string{`spec.ports[1].name: Duplicate value: "http"`}},
		{"bad name", func(s *corev1.Service) { s.Spec.Ports[0].Name = "HTTP" }, []string{
			`spec.ports[0].name: Invalid value: "HTTP": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`}},
		{"bad target port name", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("http-port-too-long") },
			[]string{`spec.ports[0].targetPort: Invalid value: "http-port-too-long": must be no more than 15 characters`}},
		{"target port zero", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromInt32(-1) },
			[]string{"spec.ports[0].targetPort: Invalid value: -1: must be between 1 and 65535, inclusive"}},
		{"bad protocol", func(s *corev1.Service) { s.Spec.Ports[0].Protocol = "HTTP" },
			[]string{`spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"`}},
		{"duplicate port", func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "other", Port: 8080, Protocol: "TCP", TargetPort: intstr.FromInt32(1)})
		}, []string{`spec.ports[1]: Duplicate value: v1.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), Port:8080, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}`}},
		{"same port other protocol", func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "udp", Port: 8080, Protocol: "UDP", TargetPort: intstr.FromInt32(1)})
		}, nil},
		{"nodePort on ClusterIP", func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 },
			[]string{"spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"}},
		{"nodePort out of range", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.Ports[0].NodePort = corev1.ServiceTypeNodePort, 8080
		}, []string{"spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767"}},
		{"nodePort ok", func(s *corev1.Service) { s.Spec.Type, s.Spec.Ports[0].NodePort = corev1.ServiceTypeNodePort, 30080 }, nil},
		{"duplicate nodePort", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports = []corev1.ServicePort{{Name: "a", Port: 1, NodePort: 30001}, {Name: "b", Port: 2, NodePort: 30001}}
		}, []string{"spec.ports[1].nodePort: Duplicate value: 30001"}},
		{"bad selector", func(s *corev1.Service) { s.Spec.Selector = map[string]string{"name": "a b"} },
			[]string{`spec.selector: Invalid value: "a b": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`}},
		{"bad type", func(s *corev1.Service) { s.Spec.Type = "Internal" },
			[]string{`spec.type: Unsupported value: "Internal": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`}},
		{"bad session affinity", func(s *corev1.Service) { s.Spec.SessionAffinity = "Cookie" },
			[]string{`spec.sessionAffinity: Unsupported value: "Cookie": supported values: "ClientIP", "None"`}},
		{"bad cluster IP", func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.0.0.300", nil },
			[]string{`spec.clusterIP: Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`}},
		{"headless NodePort", func(s *corev1.Service) { s.Spec.Type, s.Spec.ClusterIP = corev1.ServiceTypeNodePort, "None" },
			[]string{`spec.clusterIPs[0]: Invalid value: "None": may not be set to 'None' for NodePort services`}},
		{"ExternalName without name", func(s *corev1.Service) { s.Spec.Type, s.Spec.Ports = corev1.ServiceTypeExternalName, nil },
			[]string{"spec.externalName: Required value"}},
		{"external traffic policy on ClusterIP", func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = "Local" },
			[]string{`spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := metaErrStrings(svcValidate(svcTestService(tt.mutate)))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestServiceValidateUpdate(t *testing.T) {
	old := svcTestService(func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.10" })
	changed := svcTestService(func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.11" })
	want := []string{`spec.clusterIP: Invalid value: "10.96.0.11": field is immutable`}
	if diff := cmp.Diff(want, metaErrStrings(svcValidateUpdate(changed, old))); diff != "" {
		t.Errorf("clusterIP change (-want +got):\n%s", diff)
	}
	same := svcTestService(func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.10"; s.Spec.Ports[0].Port = 9090 })
	if errs := svcValidateUpdate(same, old); len(errs) != 0 {
		t.Errorf("port change rejected: %v", errs)
	}
	unset := svcTestService(nil)
	if errs := svcValidateUpdate(changed, unset); len(errs) != 0 {
		t.Errorf("first clusterIP assignment rejected: %v", errs)
	}
}

func TestServicePrepareForUpdateKeepsAllocations(t *testing.T) {
	old := svcTestService(func(s *corev1.Service) {
		s.Spec.Type, s.Spec.ClusterIP = corev1.ServiceTypeNodePort, "10.96.0.10"
		s.Spec.Ports[0].NodePort = 30080
	})
	old.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "1.2.3.4"}}
	applied := svcTestService(func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort })
	svcPrepareForUpdate(applied, old)
	if applied.Spec.ClusterIP != "10.96.0.10" || applied.Spec.Ports[0].NodePort != 30080 {
		t.Errorf("allocations lost: clusterIP %q nodePort %d", applied.Spec.ClusterIP, applied.Spec.Ports[0].NodePort)
	}
	if diff := cmp.Diff(old.Status, applied.Status); diff != "" {
		t.Errorf("status not kept (-want +got):\n%s", diff)
	}
	if errs := svcValidateUpdate(applied, old); len(errs) != 0 {
		t.Errorf("update after prepare rejected: %v", errs)
	}
}

func TestServiceTable(t *testing.T) {
	created := metav1.NewTime(time.Now().Add(-2 * time.Hour))
	tests := []struct {
		name string
		svc  *corev1.Service
		want []interface{}
	}{
		{"node port", svcTestService(func(s *corev1.Service) {
			s.CreationTimestamp = created
			s.Spec.Type, s.Spec.ClusterIP = corev1.ServiceTypeNodePort, "10.96.0.10"
			s.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 8080, NodePort: 30080}, {Name: "agent", Port: 50000}}
		}), []interface{}{"jenkins", "NodePort", "10.96.0.10", "<none>", "8080:30080/TCP,50000/TCP", "120m", "name=jenkins"}},
		{"pending load balancer", svcTestService(func(s *corev1.Service) {
			s.Spec.Type, s.Spec.Selector = corev1.ServiceTypeLoadBalancer, nil
		}), []interface{}{"jenkins", "LoadBalancer", "<none>", "<pending>", "8080/TCP", "<unknown>", "<none>"}},
		{"load balancer with ingress", func() *corev1.Service {
			s := svcTestService(func(s *corev1.Service) {
				s.Spec.Type, s.Spec.ExternalIPs = corev1.ServiceTypeLoadBalancer, []string{"5.6.7.8"}
			})
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "1.2.3.4"}, {Hostname: "lb.example.com"}}
			return s
		}(), []interface{}{"jenkins", "LoadBalancer", "<none>", "1.2.3.4,lb.example.com,5.6.7.8", "8080/TCP", "<unknown>", "name=jenkins"}},
		{"external name", svcTestService(func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName, s.Spec.Ports = corev1.ServiceTypeExternalName, "db.example.com", nil
		}), []interface{}{"jenkins", "ExternalName", "<none>", "db.example.com", "<none>", "<unknown>", "name=jenkins"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := svcTable().Row(tt.svc)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("row (-want +got):\n%s", diff)
			}
			if len(got) != len(svcTable().Columns) {
				t.Errorf("%d cells for %d columns", len(got), len(svcTable().Columns))
			}
		})
	}
}
