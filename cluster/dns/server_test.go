package dns

import (
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var (
	httpPort = corev1.ServicePort{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}
	jnlpPort = corev1.ServicePort{Name: "agent", Port: 50000, Protocol: corev1.ProtocolTCP}
)

func TestClusterNames(t *testing.T) {
	agents := service("ci", "agents", corev1.ClusterIPNone, httpPort)
	agents.Spec.PublishNotReadyAddresses = false
	ext := service("ci", "mirror", "")
	ext.Spec.Type, ext.Spec.ExternalName = corev1.ServiceTypeExternalName, "mirror.example.org"
	s, _ := startServer(t, Config{},
		service("default", "jenkins", "10.96.0.20", httpPort, jnlpPort),
		agents, ext,
		// Kubernetes sets hostnames on any service's addresses; only headless ones get names.
		endpoints("default", "jenkins", corev1.EndpointSubset{
			Addresses: []corev1.EndpointAddress{{IP: "10.88.0.3", Hostname: "web-0"}},
			Ports:     []corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}},
		}),
		endpoints("ci", "agents", corev1.EndpointSubset{
			Addresses: []corev1.EndpointAddress{
				{IP: "10.88.0.7", Hostname: "web-0"},
				{IP: "10.88.0.6"},
			},
			NotReadyAddresses: []corev1.EndpointAddress{{IP: "10.88.0.9"}},
			Ports:             []corev1.EndpointPort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
		}),
	)
	const zone = ".svc.cluster.local."
	tests := []struct {
		name   string
		qtype  uint16
		rcode  int
		answer []string
		extra  []string
	}{
		{"jenkins.default" + zone, dns.TypeA, dns.RcodeSuccess,
			[]string{"jenkins.default" + zone + "\t5\tIN\tA\t10.96.0.20"}, nil},
		{"JENKINS.Default" + zone, dns.TypeA, dns.RcodeSuccess,
			[]string{"JENKINS.Default" + zone + "\t5\tIN\tA\t10.96.0.20"}, nil},
		{"jenkins.default" + zone, dns.TypeAAAA, dns.RcodeSuccess, nil, nil},
		{"jenkins.default" + zone, dns.TypeMX, dns.RcodeSuccess, nil, nil},
		{"_http._tcp.jenkins.default" + zone, dns.TypeSRV, dns.RcodeSuccess,
			[]string{"_http._tcp.jenkins.default" + zone + "\t5\tIN\tSRV\t0 100 8080 jenkins.default" + zone},
			[]string{"jenkins.default" + zone + "\t5\tIN\tA\t10.96.0.20"}},
		{"_agent._tcp.jenkins.default" + zone, dns.TypeSRV, dns.RcodeSuccess,
			[]string{"_agent._tcp.jenkins.default" + zone + "\t5\tIN\tSRV\t0 100 50000 jenkins.default" + zone},
			[]string{"jenkins.default" + zone + "\t5\tIN\tA\t10.96.0.20"}},
		{"_http._udp.jenkins.default" + zone, dns.TypeSRV, dns.RcodeNameError, nil, nil},
		{"_nope._tcp.jenkins.default" + zone, dns.TypeSRV, dns.RcodeNameError, nil, nil},
		{"agents.ci" + zone, dns.TypeA, dns.RcodeSuccess, []string{
			"agents.ci" + zone + "\t5\tIN\tA\t10.88.0.6",
			"agents.ci" + zone + "\t5\tIN\tA\t10.88.0.7",
		}, nil},
		{"_http._tcp.agents.ci" + zone, dns.TypeSRV, dns.RcodeSuccess, []string{
			"_http._tcp.agents.ci" + zone + "\t5\tIN\tSRV\t0 50 80 web-0.agents.ci" + zone,
			"_http._tcp.agents.ci" + zone + "\t5\tIN\tSRV\t0 50 80 10-88-0-6.agents.ci" + zone,
		}, []string{
			"web-0.agents.ci" + zone + "\t5\tIN\tA\t10.88.0.7",
			"10-88-0-6.agents.ci" + zone + "\t5\tIN\tA\t10.88.0.6",
		}},
		{"web-0.agents.ci" + zone, dns.TypeA, dns.RcodeSuccess,
			[]string{"web-0.agents.ci" + zone + "\t5\tIN\tA\t10.88.0.7"}, nil},
		{"10-88-0-6.agents.ci" + zone, dns.TypeA, dns.RcodeSuccess,
			[]string{"10-88-0-6.agents.ci" + zone + "\t5\tIN\tA\t10.88.0.6"}, nil},
		{"10-88-0-9.agents.ci" + zone, dns.TypeA, dns.RcodeNameError, nil, nil},   // not ready
		{"web-0.jenkins.default" + zone, dns.TypeA, dns.RcodeNameError, nil, nil}, // not headless
		{"mirror.ci" + zone, dns.TypeA, dns.RcodeSuccess,
			[]string{"mirror.ci" + zone + "\t5\tIN\tCNAME\tmirror.example.org."}, nil},
		{"10-88-0-5.ci.pod.cluster.local.", dns.TypeA, dns.RcodeSuccess,
			[]string{"10-88-0-5.ci.pod.cluster.local.\t5\tIN\tA\t10.88.0.5"}, nil},
		{"ci" + zone, dns.TypeA, dns.RcodeSuccess, nil, nil},
		{"svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, nil, nil},
		{"cluster.local.", dns.TypeA, dns.RcodeSuccess, nil, nil},
		{"nothere" + zone, dns.TypeA, dns.RcodeNameError, nil, nil},
		{"missing.default" + zone, dns.TypeA, dns.RcodeNameError, nil, nil},
		{"example.com.default" + zone, dns.TypeA, dns.RcodeNameError, nil, nil}, // search path expansion
		{"foo.cluster.local.", dns.TypeA, dns.RcodeNameError, nil, nil},
		{"x.y.ci.pod.cluster.local.", dns.TypeA, dns.RcodeNameError, nil, nil},
	}
	for _, proto := range []string{"udp", "tcp"} {
		for _, tt := range tests {
			t.Run(proto+"/"+tt.name+"/"+dns.TypeToString[tt.qtype], func(t *testing.T) {
				resp := query(t, s.Addr(), proto, tt.name, tt.qtype)
				if resp.Rcode != tt.rcode {
					t.Errorf("rcode = %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tt.rcode])
				}
				if !resp.Authoritative {
					t.Error("answer is not authoritative")
				}
				if diff := cmp.Diff(tt.answer, rrs(resp.Answer)); diff != "" {
					t.Errorf("answer (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.extra, rrs(resp.Extra)); diff != "" {
					t.Errorf("extra (-want +got):\n%s", diff)
				}
				if len(resp.Answer) == 0 && (len(resp.Ns) != 1 || resp.Ns[0].Header().Rrtype != dns.TypeSOA) {
					t.Errorf("empty answer without the zone's SOA: %v", resp.Ns)
				}
			})
		}
	}
}

func TestLargeAnswerTruncatedOverUDP(t *testing.T) {
	var addrs []corev1.EndpointAddress
	for i := range 60 {
		addrs = append(addrs, corev1.EndpointAddress{IP: "10.88.1." + strconv.Itoa(i+1)})
	}
	s, _ := startServer(t, Config{},
		service("ci", "many", corev1.ClusterIPNone),
		endpoints("ci", "many", corev1.EndpointSubset{Addresses: addrs}))
	const name = "many.ci.svc.cluster.local."
	udp := query(t, s.Addr(), "udp", name, dns.TypeA)
	if !udp.Truncated || len(udp.Answer) >= 60 {
		t.Errorf("udp: truncated=%v with %d answers, want the TC bit and fewer than 60", udp.Truncated, len(udp.Answer))
	}
	if tcp := query(t, s.Addr(), "tcp", name, dns.TypeA); tcp.Truncated || len(tcp.Answer) != 60 {
		t.Errorf("tcp: truncated=%v with %d answers, want all 60", tcp.Truncated, len(tcp.Answer))
	}
}
