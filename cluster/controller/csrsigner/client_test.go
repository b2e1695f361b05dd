package csrsigner

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/certificate/csr"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/cluster/rbac"
	"github.com/drover-ci/drover/internal/logtest"
)

var clientUsages = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageClientAuth}

func TestClientRequestRecognized(t *testing.T) {
	good := csrPEM(t, "system:node:n1", []string{"system:nodes"}, nil)
	tests := []struct {
		name     string
		req      []byte
		usages   []certificatesv1.KeyUsage
		username string
		want     string // the subresources whose create is asked, in order; "!" a malformed request
	}{
		{"joining with a bootstrap token", good, clientUsages, "system:bootstrap:abcdef", "nodeclient"},
		{"renewal by the node itself", good, clientUsages, "system:node:n1", "selfnodeclient nodeclient"},
		{"by another node", good, clientUsages, "system:node:n2", "nodeclient"},
		{"server auth", good, append(clientUsages, certificatesv1.UsageServerAuth), "system:node:n1", "!"},
		{"with a DNS name", csrPEM(t, "system:node:n1", []string{"system:nodes"}, []string{"n1"}), clientUsages, "system:node:n1", "!"},
		{"other organization", csrPEM(t, "system:node:n1", []string{"system:masters"}, nil), clientUsages, "system:bootstrap:abcdef", "!"},
		{"not a node", csrPEM(t, "admin", []string{"system:nodes"}, nil), clientUsages, "system:bootstrap:abcdef", "!"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{Request: tt.req,
				SignerName: certificatesv1.KubeAPIServerClientKubeletSignerName, Usages: tt.usages, Username: tt.username}}
			req, err := parseClientRequest(r)
			got := "!"
			if err == nil {
				var subs []string
				for _, rec := range clientRecognizers(r, req) {
					subs = append(subs, rec.subresource)
				}
				got = strings.Join(subs, " ")
			}
			if got != tt.want {
				t.Errorf("recognized as %q (parse error %v), want %q", got, err, tt.want)
			}
		})
	}
}

// requestClientCert makes a key and a node client CSR for node with cfg's credential and
// waits for the certificate.
func requestClientCert(ctx context.Context, t *testing.T, cfg *rest.Config, node string) (certPEM, keyPEM []byte, err error) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	req, err := cert.MakeCSR(key, &pkix.Name{CommonName: "system:node:" + node, Organization: []string{"system:nodes"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	name, uid, err := csr.RequestCertificate(cs, req, "", certificatesv1.KubeAPIServerClientKubeletSignerName, nil, clientUsages, key)
	if err != nil {
		return nil, nil, err
	}
	certPEM, err = csr.WaitForCertificate(ctx, cs, name, uid)
	kb, _ := x509.MarshalECPrivateKey(key)
	return certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), err
}

// TestSignerIssuesNodeClientCertificates: a node joining with a bootstrap token gets a client
// certificate that authenticates as system:node:NAME in system:nodes, and renews it with that
// certificate; an ordinary user's request for a node's certificate is left pending.
func TestSignerIssuesNodeClientCertificates(t *testing.T) {
	srv := apiservertest.Start(t)
	admin, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	_, err = admin.CoreV1().Secrets("kube-system").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-abcdef"}, Type: "bootstrap.kubernetes.io/token",
		StringData: map[string]string{"token-id": "abcdef", "token-secret": "0123456789abcdef", "usage-bootstrap-authentication": "true",
			// The group drover's RBAC lets create node CSRs (what drover token create writes).
			"auth-extra-groups": rbac.NodeBootstrapGroup,
			"expiration":        time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	inf := informers.NewSharedInformerFactory(admin, 0)
	c, err := New(controller.Context{Client: admin, Informers: inf, Logger: logtest.New(t), Options: controller.Options{
		ClusterSigningCertFile: filepath.Join(srv.DataDir, "pki", "ca.crt"), ClusterSigningKeyFile: filepath.Join(srv.DataDir, "pki", "ca.key")}})
	if err != nil {
		t.Fatal(err)
	}
	inf.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	bootstrap := rest.AnonymousClientConfig(srv.Config)
	bootstrap.BearerToken = "abcdef.0123456789abcdef"
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	crt, key, err := requestClientCert(wctx, t, bootstrap, "n1")
	if err != nil {
		t.Fatalf("node client certificate with a bootstrap token: %v", err)
	}
	asNode := rest.AnonymousClientConfig(srv.Config)
	asNode.CertData, asNode.KeyData = crt, key
	whoami := func(cfg *rest.Config) authenticationv1.UserInfo {
		t.Helper()
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		r, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("whoami: %v", err)
		}
		return r.Status.UserInfo
	}
	if u := whoami(asNode); u.Username != "system:node:n1" || len(u.Groups) != 2 || u.Groups[0] != "system:nodes" {
		t.Errorf("node certificate authenticates as %q %v, want system:node:n1 [system:nodes system:authenticated]", u.Username, u.Groups)
	}

	// Renewal with the node's own certificate (selfnodeclient).
	crt2, key2, err := requestClientCert(wctx, t, asNode, "n1")
	if err != nil {
		t.Fatalf("renewal: %v", err)
	}
	renewed := rest.AnonymousClientConfig(srv.Config)
	renewed.CertData, renewed.KeyData = crt2, key2
	if u := whoami(renewed); u.Username != "system:node:n1" {
		t.Errorf("renewed certificate authenticates as %q", u.Username)
	}

	// A user (not a bootstrapper, not the node) asking for n2's certificate: left pending. RBAC
	// lets her create CSRs (system:node-bootstrapper), which is not enough to be approved.
	jane, err := srv.PKI.IssueUser("jane")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "jane-csr"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:node-bootstrapper"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "jane"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	asJane := rest.AnonymousClientConfig(srv.Config)
	asJane.CertData = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: jane.Certificate[0]})
	kb, _ := x509.MarshalECPrivateKey(jane.PrivateKey.(*ecdsa.PrivateKey))
	asJane.KeyData = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	shortCtx, shortCancel := context.WithCancel(ctx)
	shortCancel() // do not wait: look at what the controller did with it
	_, _, _ = requestClientCert(shortCtx, t, asJane, "n2")
	list, err := admin.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range list.Items {
		if r.Spec.Username != "jane" {
			continue
		}
		found = true
		if _, err := c.Sync(ctx, r.Name); err != nil {
			t.Fatal(err)
		}
		got, err := admin.CertificatesV1().CertificateSigningRequests().Get(ctx, r.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Status.Conditions) != 0 || len(got.Status.Certificate) != 0 {
			t.Errorf("jane's request for a node certificate was not left pending: %+v", got.Status)
		}
		// Approval is by SubjectAccessReview, not by group: once RBAC lets jane create
		// certificatesigningrequests/nodeclient, her request is approved.
		if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "jane-nodeclient"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:certificates.k8s.io:certificatesigningrequests:nodeclient"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "jane"}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			if _, err := c.Sync(ctx, r.Name); err != nil {
				t.Fatal(err)
			}
			got, err = admin.CertificatesV1().CertificateSigningRequests().Get(ctx, r.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if has(got, certificatesv1.CertificateApproved) || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond) // the authorizer's index follows the store
		}
		if !has(got, certificatesv1.CertificateApproved) || got.Status.Conditions[0].Message != msgNodeClient {
			t.Errorf("jane's request once RBAC allows nodeclient: %+v", got.Status.Conditions)
		}
	}
	if !found {
		t.Error("jane's request was not created")
	}
}
