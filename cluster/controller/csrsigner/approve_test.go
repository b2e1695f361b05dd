package csrsigner

import (
	"strings"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestApprovalRules(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: "10.1.2.3"}}}}
	good := csrPEM(t, "system:node:n1", []string{"system:nodes"}, []string{"n1"}, "10.1.2.3")
	tests := []struct {
		name     string
		req      []byte
		usages   []certificatesv1.KeyUsage
		username string
		groups   []string
		want     string // "" approved; else a part of the refusal
	}{
		{"by the node itself", good, servingUsages, "system:node:n1", []string{"system:nodes"}, ""},
		{"by an admin", good, servingUsages, "admin", []string{"system:masters"}, ""},
		{"by another node", good, servingUsages, "system:node:n2", []string{"system:nodes"}, "requestor"},
		{"client auth", good, append(servingUsages, certificatesv1.UsageClientAuth), "admin", []string{"system:masters"}, `usage "client auth"`},
		{"no server auth", good, servingUsages[:2], "admin", []string{"system:masters"}, "server auth"},
		{"not a node", csrPEM(t, "web", []string{"system:nodes"}, []string{"n1"}), servingUsages, "admin", []string{"system:masters"}, "common name"},
		{"other organization", csrPEM(t, "system:node:n1", []string{"system:masters"}, []string{"n1"}), servingUsages, "admin", []string{"system:masters"}, "organization"},
		{"foreign name", csrPEM(t, "system:node:n1", []string{"system:nodes"}, []string{"evil.example.com"}), servingUsages, "admin", []string{"system:masters"}, "DNS name"},
		{"loopback", csrPEM(t, "system:node:n1", []string{"system:nodes"}, []string{"n1"}, "127.0.0.1"), servingUsages, "admin", []string{"system:masters"}, "IP address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			csr := &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{Request: tt.req,
				SignerName: certificatesv1.KubeletServingSignerName, Usages: tt.usages, Username: tt.username, Groups: tt.groups}}
			var got string
			req, err := parseRequest(csr)
			if err != nil {
				got = err.Error()
			} else {
				got = ApprovalRefusal(csr, req, node)
			}
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("refusal = %q, want %q", got, tt.want)
			}
		})
	}
}
