package registry

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
)

func testCSRPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:a", Organization: []string{"system:nodes"}}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func TestCSRValidate(t *testing.T) {
	good := testCSRPEM(t)
	usages := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth}
	short := int32(599)
	tests := []struct {
		name string
		spec certificatesv1.CertificateSigningRequestSpec
		want []string
	}{
		{"ok", certificatesv1.CertificateSigningRequestSpec{Request: good, SignerName: certificatesv1.KubeletServingSignerName, Usages: usages}, nil},
		{"empty", certificatesv1.CertificateSigningRequestSpec{},
			[]string{"spec.request: Required value", "spec.signerName: Required value", "spec.usages: Required value: usages must be provided"}},
		{"not a csr", certificatesv1.CertificateSigningRequestSpec{Request: []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), SignerName: "example.com/x", Usages: usages},
			nil},
		{"bad signer and usages", certificatesv1.CertificateSigningRequestSpec{Request: good, SignerName: "nodomain",
			Usages: []certificatesv1.KeyUsage{"server auth", "server auth", "flying"}, ExpirationSeconds: &short},
			[]string{`spec.signerName: Invalid value: "nodomain": must be a fully qualified domain and path of the form 'example.com/signer-name'`,
				`spec.usages[1]: Duplicate value: "server auth"`,
				`spec.usages[2]: Unsupported value: "flying": supported values: "any", "cert sign", "client auth", "code signing", "content commitment", "crl sign", "data encipherment", "decipher only", "digital signature", "email protection", "encipher only", "ipsec end system", "ipsec tunnel", "ipsec user", "key agreement", "key encipherment", "microsoft sgc", "netscape sgc", "ocsp signing", "s/mime", "server auth", "signing", "timestamping"`,
				`spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 600 seconds (10 minutes)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := csrValidate(&certificatesv1.CertificateSigningRequest{Spec: tt.spec})
			if tt.name == "not a csr" {
				// The value is the request bytes, as Kubernetes writes it.
				if len(errs) != 1 || errs[0].Field != "spec.request" || errs[0].Detail != "PEM block type must be CERTIFICATE REQUEST" {
					t.Errorf("errors = %v", errs)
				}
				return
			}
			got := metaErrStrings(errs)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCSRRequestorOverridesClient(t *testing.T) {
	csr := &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{Username: "system:node:other", Groups: []string{"system:masters"}}}
	csrRequestor(csr, &user.DefaultInfo{Name: "system:node:a", Groups: []string{"system:nodes"}})
	if csr.Spec.Username != "system:node:a" || !cmp.Equal(csr.Spec.Groups, []string{"system:nodes"}) {
		t.Errorf("requestor = %q %v, want the authenticated user", csr.Spec.Username, csr.Spec.Groups)
	}
}

func TestCSRSubresourceUpdates(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	approved := certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "AutoApproved"}
	old := &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: "example.com/a"}}

	// approval: conditions change, spec and certificate do not.
	upd := &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: "example.com/b"},
		Status: certificatesv1.CertificateSigningRequestStatus{Conditions: []certificatesv1.CertificateSigningRequestCondition{approved}, Certificate: []byte("x")}}
	csrPrepareForSubresourceUpdate("approval", upd, old, now)
	if upd.Spec.SignerName != "example.com/a" || upd.Status.Certificate != nil || len(upd.Status.Conditions) != 1 ||
		!upd.Status.Conditions[0].LastUpdateTime.Equal(&metav1.Time{Time: now}) {
		t.Errorf("after approval update: %+v", upd)
	}
	if errs := csrValidateConditions(upd, old); len(errs) > 0 {
		t.Errorf("approval: %v", errs)
	}

	// status: the approval conditions stay as stored; the certificate is set once.
	withApproval := upd.DeepCopy()
	st := withApproval.DeepCopy()
	st.Status.Conditions = nil
	st.Status.Certificate = []byte("not pem")
	csrPrepareForSubresourceUpdate("status", st, withApproval, now)
	if len(st.Status.Conditions) != 1 || st.Status.Conditions[0].Type != certificatesv1.CertificateApproved {
		t.Errorf("status update dropped the Approved condition: %+v", st.Status.Conditions)
	}
	want := []string{`status.certificate: Invalid value: "<certificate data>": must contain at least one CERTIFICATE PEM block and nothing else`}
	if diff := cmp.Diff(want, metaErrStrings(csrValidateStatusUpdate(st, withApproval))); diff != "" {
		t.Errorf("status errors (-want +got):\n%s", diff)
	}

	// Approved and Denied together; removing Approved.
	both := withApproval.DeepCopy()
	both.Status.Conditions = append(both.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateDenied, Status: corev1.ConditionTrue})
	if errs := csrValidateConditions(both, withApproval); len(errs) != 1 || errs[0].Detail != "Approved and Denied conditions are mutually exclusive" {
		t.Errorf("both: %v", errs)
	}
	none := withApproval.DeepCopy()
	none.Status.Conditions = nil
	if errs := csrValidateConditions(none, withApproval); len(errs) != 1 || errs[0].Detail != `updates may not remove a condition of type "Approved"` {
		t.Errorf("removed: %v", errs)
	}
}

func TestCSRTableCondition(t *testing.T) {
	for _, tt := range []struct {
		s    certificatesv1.CertificateSigningRequestStatus
		want string
	}{
		{certificatesv1.CertificateSigningRequestStatus{}, "Pending"},
		{certificatesv1.CertificateSigningRequestStatus{Conditions: []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved}}, Certificate: []byte("c")}, "Approved,Issued"},
		{certificatesv1.CertificateSigningRequestStatus{Conditions: []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateDenied}}}, "Denied"},
	} {
		if got := csrCondition(tt.s); got != tt.want {
			t.Errorf("condition = %q, want %q", got, tt.want)
		}
	}
	row, err := csrTable().Row(&certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "n"},
		Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: certificatesv1.KubeletServingSignerName, Username: "admin"}})
	if err != nil || len(row) != 6 || row[2] != certificatesv1.KubeletServingSignerName || row[3] != "admin" || row[4] != "<none>" || row[5] != "Pending" {
		t.Errorf("row = %v, %v", row, err)
	}
}
