package apiserver_test

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"path/filepath"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
)

// asCert is a client of srv that authenticates with the client certificate c only.
func asCert(t *testing.T, srv *apiservertest.Server, c tls.Certificate) kubernetes.Interface {
	t.Helper()
	kb, err := x509.MarshalECPrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.AnonymousClientConfig(srv.Config)
	cfg.CertData = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]})
	cfg.KeyData = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	return clientFor(t, cfg)
}

// A client certificate from drover's CA authenticates as its CN in its O groups and
// system:authenticated (Kubernetes' x509 authenticator); one from another CA is refused 401.
func TestClientCertificateAuthentication(t *testing.T) {
	t.Parallel()
	srv := apiservertest.Start(t)
	cert, err := srv.PKI.IssueUser("jane", "devs", "ops")
	if err != nil {
		t.Fatal(err)
	}
	ui, err := whoami(t, asCert(t, srv, cert))
	if err != nil {
		t.Fatalf("whoami with a certificate from the CA: %v", err)
	}
	// The organizations come in the certificate's (DER set) order.
	if ui.Username != "jane" || !slices.Equal(slices.Sorted(slices.Values(ui.Groups)), []string{"devs", "ops", "system:authenticated"}) {
		t.Errorf("user = %q %v, want jane [devs ops system:authenticated]", ui.Username, ui.Groups)
	}

	other, err := apiserver.LoadOrCreatePKI(filepath.Join(t.TempDir(), "pki"), []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.IssueUser("jane", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	_, err = whoami(t, asCert(t, srv, foreign))
	wantStatus(t, "whoami with a certificate from another CA", err, 401)

	// A serving certificate of the CA is not a client credential.
	serving, err := srv.PKI.IssueServing("system:node:n1", []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = whoami(t, asCert(t, srv, serving))
	wantStatus(t, "whoami with a serving certificate", err, 401)
}

// bootstrapSecret is a bootstrap token Secret as kubeadm writes it.
func bootstrapSecret(id, secret string, exp time.Time, usages ...string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-" + id, Namespace: "kube-system"},
		Type: "bootstrap.kubernetes.io/token",
		StringData: map[string]string{"token-id": id, "token-secret": secret, "expiration": exp.UTC().Format(time.RFC3339),
			"auth-extra-groups": "system:bootstrappers:drover:default-node-token"}}
	for _, u := range usages {
		s.StringData["usage-bootstrap-"+u] = "true"
	}
	return s
}

// A bootstrap token authenticates as system:bootstrap:ID in system:bootstrappers while its
// Secret says so; an expired, unknown, mistyped or signing-only token is refused 401.
func TestBootstrapTokenAuthentication(t *testing.T) {
	t.Parallel()
	srv, cs := startClient(t)
	now := time.Now()
	for _, s := range []*corev1.Secret{
		bootstrapSecret("abcdef", "0123456789abcdef", now.Add(time.Hour), "authentication", "signing"),
		bootstrapSecret("expird", "0123456789abcdef", now.Add(-time.Minute), "authentication"),
		bootstrapSecret("signed", "0123456789abcdef", now.Add(time.Hour), "signing"),
	} {
		if _, err := cs.CoreV1().Secrets("kube-system").Create(testCtx(t), s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ui, err := whoami(t, asToken(t, srv, "abcdef.0123456789abcdef"))
	if err != nil {
		t.Fatalf("whoami with a bootstrap token: %v", err)
	}
	want := []string{"system:bootstrappers", "system:bootstrappers:drover:default-node-token", "system:authenticated"}
	if ui.Username != "system:bootstrap:abcdef" || !slices.Equal(ui.Groups, want) {
		t.Errorf("user = %q %v, want system:bootstrap:abcdef %v", ui.Username, ui.Groups, want)
	}
	for _, tok := range []string{"expird.0123456789abcdef", "signed.0123456789abcdef", "abcdef.0123456789abcdee", "zzzzzz.0123456789abcdef"} {
		_, err := whoami(t, asToken(t, srv, tok))
		wantStatus(t, "whoami with bootstrap token "+tok[:6], err, 401)
	}
	if err := cs.CoreV1().Secrets("kube-system").Delete(testCtx(t), "bootstrap-token-abcdef", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = whoami(t, asToken(t, srv, "abcdef.0123456789abcdef"))
	wantStatus(t, "whoami with a deleted bootstrap token", err, 401)
}
