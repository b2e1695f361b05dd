package dns

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The conformance tests "should provide DNS for services" and "should resolve DNS of partial
// qualified names for services" dig the PTR of a service's cluster IP (dig +search
// 20.0.96.10.in-addr.arpa PTR) and expect <svc>.<ns>.svc.cluster.local., as CoreDNS answers.
func TestReverseLookups(t *testing.T) {
	up := startUpstream(t)
	dual := service("default", "dual", "10.96.0.30")
	dual.Spec.ClusterIPs = []string{"10.96.0.30", "fd00:96::30"}
	s, client := startServer(t, Config{Upstreams: []string{up.addr}},
		service("default", "jenkins", "10.96.0.20", httpPort),
		dual,
		service("ci", "agents", corev1.ClusterIPNone, httpPort),
		endpoints("default", "jenkins", corev1.EndpointSubset{
			Addresses: []corev1.EndpointAddress{{IP: "10.88.0.3"}},
		}),
		endpoints("ci", "agents", corev1.EndpointSubset{
			Addresses:         []corev1.EndpointAddress{{IP: "10.88.0.7", Hostname: "web-0"}, {IP: "10.88.0.3"}},
			NotReadyAddresses: []corev1.EndpointAddress{{IP: "10.88.0.9"}},
		}),
	)
	ptr := func(name, target string) string { return name + "\t5\tIN\tPTR\t" + target }
	tests := []struct {
		name     string
		qtype    uint16
		answer   []string
		upstream bool // falls through to the upstreams
	}{
		{"20.0.96.10.in-addr.arpa.", dns.TypePTR,
			[]string{ptr("20.0.96.10.in-addr.arpa.", "jenkins.default.svc.cluster.local.")}, false},
		{"20.0.96.10.IN-ADDR.ARPA.", dns.TypePTR,
			[]string{ptr("20.0.96.10.IN-ADDR.ARPA.", "jenkins.default.svc.cluster.local.")}, false},
		{"30.0.96.10.in-addr.arpa.", dns.TypePTR,
			[]string{ptr("30.0.96.10.in-addr.arpa.", "dual.default.svc.cluster.local.")}, false},
		{"0.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.0.d.f.ip6.arpa.", dns.TypePTR,
			[]string{ptr("0.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.0.d.f.ip6.arpa.", "dual.default.svc.cluster.local.")}, false},
		// An endpoint address: its host name in every service it backs.
		{"3.0.88.10.in-addr.arpa.", dns.TypePTR, []string{
			ptr("3.0.88.10.in-addr.arpa.", "10-88-0-3.agents.ci.svc.cluster.local."),
			ptr("3.0.88.10.in-addr.arpa.", "10-88-0-3.jenkins.default.svc.cluster.local."),
		}, false},
		{"7.0.88.10.in-addr.arpa.", dns.TypePTR,
			[]string{ptr("7.0.88.10.in-addr.arpa.", "web-0.agents.ci.svc.cluster.local.")}, false},
		{"20.0.96.10.in-addr.arpa.", dns.TypeA, nil, false},
		// Not ready, unknown, or not a whole address: the upstreams answer.
		{"9.0.88.10.in-addr.arpa.", dns.TypePTR, nil, true},
		{"1.2.0.192.in-addr.arpa.", dns.TypePTR, nil, true},
		{"96.10.in-addr.arpa.", dns.TypePTR, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+dns.TypeToString[tt.qtype], func(t *testing.T) {
			before := len(up.seen())
			resp := query(t, s.Addr(), "udp", tt.name, tt.qtype)
			if forwarded := len(up.seen()) > before; forwarded != tt.upstream {
				t.Fatalf("forwarded = %v, want %v (answer %v)", forwarded, tt.upstream, rrs(resp.Answer))
			}
			if tt.upstream {
				return
			}
			if resp.Rcode != dns.RcodeSuccess || !resp.Authoritative {
				t.Errorf("rcode %s, authoritative %v; want NOERROR, authoritative", dns.RcodeToString[resp.Rcode], resp.Authoritative)
			}
			if diff := cmp.Diff(tt.answer, rrs(resp.Answer)); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}

	// The index follows changes: a deleted service's IP is no longer the cluster's.
	if err := client.CoreV1().Services("default").Delete(t.Context(), "jenkins", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() string {
		before := len(up.seen())
		query(t, s.Addr(), "udp", "20.0.96.10.in-addr.arpa.", dns.TypePTR)
		if len(up.seen()) == before {
			return "the deleted service's cluster IP is still answered"
		}
		return ""
	})
}

func TestReverseIP(t *testing.T) {
	for name, want := range map[string]string{
		"4.3.2.1.in-addr.arpa.":   "1.2.3.4",
		"4.3.2.in-addr.arpa.":     "",
		"4.3.2.x.in-addr.arpa.":   "",
		"4.3.2.1.0.in-addr.arpa.": "",
		"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.": "2001:db8::1",
		"1.0.0.ip6.arpa.": "",
		"example.org.":    "",
	} {
		if got := reverseIP(name); got != want {
			t.Errorf("reverseIP(%q) = %q, want %q", name, got, want)
		}
	}
}
