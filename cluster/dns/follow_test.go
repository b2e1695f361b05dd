package dns

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// answersOf returns the addresses in an A answer, or the rcode when it is not NOERROR.
func answersOf(t *testing.T, addr, name string) []string {
	resp := query(t, addr, "udp", name, dns.TypeA)
	if resp.Rcode != dns.RcodeSuccess {
		return []string{dns.RcodeToString[resp.Rcode]}
	}
	var out []string
	for _, rr := range resp.Answer {
		out = append(out, rr.(*dns.A).A.String())
	}
	return out
}

func wantAnswers(t *testing.T, addr, name string, want ...string) {
	t.Helper()
	eventually(t, func() string {
		if got := answersOf(t, addr, name); !slices.Equal(got, want) {
			return fmt.Sprintf("%s: %v, want %v", name, got, want)
		}
		return ""
	})
}

func TestFollowsServiceAndEndpointChanges(t *testing.T) {
	s, client := startServer(t, Config{})
	ctx := context.Background()
	const name = "jenkins.default.svc.cluster.local."
	wantAnswers(t, s.Addr(), name, "NXDOMAIN")

	svc := service("default", "jenkins", "10.96.0.20")
	if _, err := client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wantAnswers(t, s.Addr(), name, "10.96.0.20")

	// Recreated as headless: the ready endpoints, following the Endpoints object.
	if err := client.CoreV1().Services("default").Delete(ctx, "jenkins", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	wantAnswers(t, s.Addr(), name, "NXDOMAIN")
	svc.Spec.ClusterIP = corev1.ClusterIPNone
	if _, err := client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wantAnswers(t, s.Addr(), name)
	ep := endpoints("default", "jenkins", corev1.EndpointSubset{Addresses: []corev1.EndpointAddress{{IP: "10.88.0.2"}}})
	if _, err := client.CoreV1().Endpoints("default").Create(ctx, ep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wantAnswers(t, s.Addr(), name, "10.88.0.2")
	ep.Subsets[0].Addresses = []corev1.EndpointAddress{{IP: "10.88.0.4"}, {IP: "10.88.0.3"}}
	if _, err := client.CoreV1().Endpoints("default").Update(ctx, ep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	wantAnswers(t, s.Addr(), name, "10.88.0.3", "10.88.0.4")
	// Not ready: gone from the answer.
	ep.Subsets[0].NotReadyAddresses, ep.Subsets[0].Addresses = ep.Subsets[0].Addresses, nil
	if _, err := client.CoreV1().Endpoints("default").Update(ctx, ep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	wantAnswers(t, s.Addr(), name)
}
