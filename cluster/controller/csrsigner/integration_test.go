package csrsigner

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/internal/logtest"
	"github.com/drover-ci/drover/internal/uptest"
)

func csrPEM(t *testing.T, cn string, org []string, dns []string, ips ...string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn, Organization: org}, DNSNames: dns}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

var servingUsages = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth}

// TestSignerApprovesAndSignsNodeServingCSRs runs the controller against the real API server:
// a node's serving request is approved (AutoApproved) and signed with the API server's CA for
// exactly the names asked, for expirationSeconds; a request for another signer, one with
// client auth, and one naming an IP that is not the node's stay pending; the last one, once
// approved by the admin through the approval subresource (kubectl certificate approve), is
// signed.
func TestSignerApprovesAndSignsNodeServingCSRs(t *testing.T) {
	srv := apiservertest.Start(t)
	client, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: "10.1.2.3"}, {Type: corev1.NodeHostName, Address: "n1"}}}}
	if _, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	csrs := client.CertificatesV1().CertificateSigningRequests()
	create := func(name, signer string, req []byte, usages []certificatesv1.KeyUsage, exp *int32) {
		t.Helper()
		_, err := csrs.Create(ctx, &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: certificatesv1.CertificateSigningRequestSpec{Request: req, SignerName: signer, Usages: usages, ExpirationSeconds: exp}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	nodeReq := func() []byte {
		return csrPEM(t, "system:node:n1", []string{"system:nodes"}, []string{"n1"}, "10.1.2.3")
	}
	create("other-signer", "example.com/signer", nodeReq(), servingUsages, nil)
	create("client-auth", certificatesv1.KubeletServingSignerName, nodeReq(), append(servingUsages, certificatesv1.UsageClientAuth), nil)
	create("foreign-ip", certificatesv1.KubeletServingSignerName, csrPEM(t, "system:node:n1", []string{"system:nodes"}, []string{"n1"}, "10.9.9.9"), servingUsages, nil)
	hour := int32(3600)
	create("good", certificatesv1.KubeletServingSignerName, nodeReq(), servingUsages, &hour)

	inf := informers.NewSharedInformerFactory(client, 0)
	c, err := New(controller.Context{Client: client, Informers: inf, Logger: logtest.New(t), Options: controller.Options{
		ClusterSigningCertFile: filepath.Join(srv.DataDir, "pki", "ca.crt"), ClusterSigningKeyFile: filepath.Join(srv.DataDir, "pki", "ca.key")}})
	if err != nil {
		t.Fatal(err)
	}
	inf.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	issued := func(name string) *certificatesv1.CertificateSigningRequest {
		var got *certificatesv1.CertificateSigningRequest
		uptest.Eventually(t, 20*time.Second, name+" issued", func() bool {
			got, err = csrs.Get(ctx, name, metav1.GetOptions{})
			return err == nil && len(got.Status.Certificate) > 0
		})
		return got
	}
	good := issued("good")
	if len(good.Status.Conditions) != 1 || good.Status.Conditions[0].Type != certificatesv1.CertificateApproved || good.Status.Conditions[0].Reason != ReasonAutoApproved {
		t.Errorf("good conditions = %+v", good.Status.Conditions)
	}
	if good.Spec.Username != "admin" {
		t.Errorf("requestor = %q, want the admin who created it", good.Spec.Username)
	}
	cert := verify(t, srv.PKI.CAPool(), good.Status.Certificate, "n1", "10.1.2.3")
	if cert.Subject.CommonName != "system:node:n1" || len(cert.Subject.Organization) != 1 || cert.Subject.Organization[0] != "system:nodes" {
		t.Errorf("subject = %v", cert.Subject)
	}
	if d := cert.NotAfter.Sub(cert.NotBefore); d != time.Hour+backdate {
		t.Errorf("validity = %s, want 1h (expirationSeconds) + %s backdating", d, backdate)
	}

	// Sync the refused ones once more, now that the good one is done: still pending.
	for _, name := range []string{"other-signer", "client-auth", "foreign-ip"} {
		if _, err := c.Sync(ctx, name); err != nil {
			t.Errorf("sync %s: %v", name, err)
		}
		got, err := csrs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Status.Conditions) != 0 || len(got.Status.Certificate) != 0 {
			t.Errorf("%s was not left pending: %+v", name, got.Status)
		}
	}

	// kubectl lists them with Kubernetes' columns, and the admin approves the foreign-IP one
	// (the approval subresource): it is signed, with its names.
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		uptest.RequireE2E(t, "kubectl not found")
		t.Skip("kubectl not found")
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(kubectl, append([]string{"--kubeconfig", srv.Kubeconfig}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	table := run("get", "csr")
	for _, want := range []string{"NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION", "CONDITION",
		"kubernetes.io/kubelet-serving   admin       60m                 Approved,Issued", "Pending"} {
		if !strings.Contains(table, want) {
			t.Errorf("kubectl get csr lacks %q:\n%s", want, table)
		}
	}
	run("certificate", "approve", "foreign-ip")
	cert = verify(t, srv.PKI.CAPool(), issued("foreign-ip").Status.Certificate, "n1", "10.9.9.9")
	if d := cert.NotAfter.Sub(cert.NotBefore); d != defaultDuration+backdate && !cert.NotAfter.Equal(srvCANotAfter(t, srv.DataDir)) {
		t.Errorf("validity without expirationSeconds = %s, want a year", d)
	}
}

// verify checks the PEM certificate chains to pool for server auth, for dns and ip exactly.
func verify(t *testing.T, pool *x509.CertPool, certPEM []byte, dns, ip string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	if b == nil {
		t.Fatalf("certificate is not PEM: %q", certPEM)
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{dns, ip} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("certificate does not verify for %s: %v", host, err)
		}
	}
	if len(cert.DNSNames) != 1 || cert.DNSNames[0] != dns || len(cert.IPAddresses) != 1 || cert.IPAddresses[0].String() != ip {
		t.Errorf("SANs = %v %v, want %s %s", cert.DNSNames, cert.IPAddresses, dns, ip)
	}
	return cert
}

func srvCANotAfter(t *testing.T, dataDir string) time.Time {
	ca, err := LoadCA(filepath.Join(dataDir, "pki", "ca.crt"), filepath.Join(dataDir, "pki", "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	return ca.Cert.NotAfter
}
