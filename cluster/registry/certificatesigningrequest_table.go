package registry

import (
	"fmt"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
)

// csrTable prints certificate signing requests as Kubernetes does:
// NAME AGE SIGNERNAME REQUESTOR REQUESTEDDURATION CONDITION.
func csrTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			ageColumn,
			column("SignerName", "string", certificatesv1.CertificateSigningRequestSpec{}.SwaggerDoc()["signerName"], 0),
			column("Requestor", "string", "Name of the user who requested the CSR.", 0),
			column("RequestedDuration", "string", certificatesv1.CertificateSigningRequestSpec{}.SwaggerDoc()["expirationSeconds"], 0),
			column("Condition", "string", certificatesv1.CertificateSigningRequestStatus{}.SwaggerDoc()["conditions"], 0),
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			csr, ok := obj.(*certificatesv1.CertificateSigningRequest)
			if !ok {
				return nil, fmt.Errorf("certificatesigningrequest table: unexpected object %T", obj)
			}
			dur := "<none>"
			if e := csr.Spec.ExpirationSeconds; e != nil {
				dur = duration.HumanDuration(time.Duration(*e) * time.Second)
			}
			return []interface{}{csr.Name, translateTimestampSince(csr.CreationTimestamp), csr.Spec.SignerName,
				csr.Spec.Username, dur, csrCondition(csr.Status)}, nil
		},
	}
}

// csrCondition is the CONDITION column: "Pending", or the condition types ("Approved,Issued").
func csrCondition(s certificatesv1.CertificateSigningRequestStatus) string {
	var approved, denied, failed bool
	for _, c := range s.Conditions {
		switch c.Type {
		case certificatesv1.CertificateApproved:
			approved = true
		case certificatesv1.CertificateDenied:
			denied = true
		case certificatesv1.CertificateFailed:
			failed = true
		}
	}
	var out []string
	switch {
	case denied:
		out = append(out, "Denied")
	case approved:
		out = append(out, "Approved")
	}
	if failed {
		out = append(out, "Failed")
	}
	if len(s.Certificate) > 0 {
		out = append(out, "Issued")
	}
	if len(out) == 0 {
		return "Pending"
	}
	return strings.Join(out, ",")
}
