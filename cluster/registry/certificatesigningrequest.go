package registry

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/user"
)

// csrResource describes certificates.k8s.io/v1 certificatesigningrequests: a client asks a
// signer for a certificate; approvers add the Approved (or Denied) condition through the
// approval subresource, the signer writes status.certificate through status.
func csrResource() *Resource {
	return &Resource{
		Group: "certificates.k8s.io", Version: "v1", Resource: "certificatesigningrequests", Kind: "CertificateSigningRequest",
		SingularName: "certificatesigningrequest", ShortNames: []string{"csr"},
		Subresources: []string{"status", "approval"}, HasStatus: true,
		New:     func() runtime.Object { return &certificatesv1.CertificateSigningRequest{} },
		NewList: func() runtime.Object { return &certificatesv1.CertificateSigningRequestList{} },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*certificatesv1.CertificateSigningRequest).Status = certificatesv1.CertificateSigningRequestStatus{}
		},
		PrepareForUpdate: func(obj, old runtime.Object) {
			// The spec is immutable; status changes only through status and approval.
			obj.(*certificatesv1.CertificateSigningRequest).Spec = old.(*certificatesv1.CertificateSigningRequest).Spec
		},
		Requestor: csrRequestor,
		Validate: func(obj runtime.Object) field.ErrorList {
			return csrValidate(obj.(*certificatesv1.CertificateSigningRequest))
		},
		PrepareForSubresourceUpdate: func(sub string, obj, old runtime.Object) {
			csrPrepareForSubresourceUpdate(sub, obj.(*certificatesv1.CertificateSigningRequest), old.(*certificatesv1.CertificateSigningRequest), time.Now())
		},
		ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList {
			return csrValidateStatusUpdate(obj.(*certificatesv1.CertificateSigningRequest), old.(*certificatesv1.CertificateSigningRequest))
		},
		ValidateSubresourceUpdate: func(sub string, obj, old runtime.Object) field.ErrorList {
			return csrValidateConditions(obj.(*certificatesv1.CertificateSigningRequest), old.(*certificatesv1.CertificateSigningRequest))
		},
		Table: csrTable(),
	}
}

// csrRequestor records who created the request (spec.username, uid, groups, extra), as
// Kubernetes' csrStrategy.PrepareForCreate does: the client cannot claim another identity.
func csrRequestor(obj runtime.Object, u user.Info) {
	csr := obj.(*certificatesv1.CertificateSigningRequest)
	csr.Spec.Username, csr.Spec.UID, csr.Spec.Groups, csr.Spec.Extra = "", "", nil, nil
	if u == nil {
		return
	}
	csr.Spec.Username, csr.Spec.UID, csr.Spec.Groups = u.GetName(), u.GetUID(), u.GetGroups()
	if ex := u.GetExtra(); len(ex) > 0 {
		csr.Spec.Extra = map[string]certificatesv1.ExtraValue{}
		for k, v := range ex {
			csr.Spec.Extra[k] = v
		}
	}
}

var csrValidUsages = sets.New[string](
	string(certificatesv1.UsageSigning), string(certificatesv1.UsageDigitalSignature),
	string(certificatesv1.UsageContentCommitment), string(certificatesv1.UsageKeyEncipherment),
	string(certificatesv1.UsageKeyAgreement), string(certificatesv1.UsageDataEncipherment),
	string(certificatesv1.UsageCertSign), string(certificatesv1.UsageCRLSign),
	string(certificatesv1.UsageEncipherOnly), string(certificatesv1.UsageDecipherOnly),
	string(certificatesv1.UsageAny), string(certificatesv1.UsageServerAuth),
	string(certificatesv1.UsageClientAuth), string(certificatesv1.UsageCodeSigning),
	string(certificatesv1.UsageEmailProtection), string(certificatesv1.UsageSMIME),
	string(certificatesv1.UsageIPsecEndSystem), string(certificatesv1.UsageIPsecTunnel),
	string(certificatesv1.UsageIPsecUser), string(certificatesv1.UsageTimestamping),
	string(certificatesv1.UsageOCSPSigning), string(certificatesv1.UsageMicrosoftSGC),
	string(certificatesv1.UsageNetscapeSGC),
)

// ParseCSR decodes the PEM CERTIFICATE REQUEST of a CertificateSigningRequest's spec.request.
func ParseCSR(pemBytes []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("PEM block type must be CERTIFICATE REQUEST")
	}
	return x509.ParseCertificateRequest(block.Bytes)
}

// csrValidate is Kubernetes' ValidateCertificateSigningRequestCreate: a parseable, signed
// request, a qualified signerName, known usages without duplicates, expirationSeconds ≥ 600.
func csrValidate(csr *certificatesv1.CertificateSigningRequest) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	if len(csr.Spec.Request) == 0 {
		errs = append(errs, field.Required(spec.Child("request"), ""))
	} else if req, err := ParseCSR(csr.Spec.Request); err != nil {
		errs = append(errs, field.Invalid(spec.Child("request"), csr.Spec.Request, err.Error()))
	} else if err := req.CheckSignature(); err != nil {
		errs = append(errs, field.Invalid(spec.Child("request"), csr.Spec.Request, err.Error()))
	}
	errs = append(errs, validateSignerName(spec.Child("signerName"), csr.Spec.SignerName)...)
	if len(csr.Spec.Usages) == 0 {
		errs = append(errs, field.Required(spec.Child("usages"), "usages must be provided"))
	}
	seen := sets.New[string]()
	for i, u := range csr.Spec.Usages {
		switch {
		case !csrValidUsages.Has(string(u)):
			errs = append(errs, field.NotSupported(spec.Child("usages").Index(i), u, sets.List(csrValidUsages)))
		case seen.Has(string(u)):
			errs = append(errs, field.Duplicate(spec.Child("usages").Index(i), u))
		}
		seen.Insert(string(u))
	}
	if e := csr.Spec.ExpirationSeconds; e != nil && *e < 600 {
		errs = append(errs, field.Invalid(spec.Child("expirationSeconds"), *e, "may not specify a duration less than 600 seconds (10 minutes)"))
	}
	return append(errs, csrValidateConditions(csr, nil)...)
}

// validateSignerName checks a signerName is DOMAIN/PATH with a DNS-1123 subdomain domain, as
// Kubernetes' ValidateSignerName does.
func validateSignerName(p *field.Path, name string) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	domain, path, ok := strings.Cut(name, "/")
	if !ok {
		return field.ErrorList{field.Invalid(p, name, "must be a fully qualified domain and path of the form 'example.com/signer-name'")}
	}
	var errs field.ErrorList
	if len(validation.IsDNS1123Subdomain(domain)) > 0 {
		errs = append(errs, field.Invalid(p, name, "the domain portion of the signerName must be a valid DNS subdomain"))
	}
	if path == "" {
		errs = append(errs, field.Invalid(p, name, "validating path: must not be empty"))
	}
	return errs
}

func isApprovalCondition(t certificatesv1.RequestConditionType) bool {
	return t == certificatesv1.CertificateApproved || t == certificatesv1.CertificateDenied
}

// csrPrepareForSubresourceUpdate keeps what a status or approval update may not change: the
// spec always; through status the Approved/Denied conditions, through approval the
// certificate and the other conditions. New conditions get their timestamps.
func csrPrepareForSubresourceUpdate(sub string, csr, old *certificatesv1.CertificateSigningRequest, now time.Time) {
	csr.Spec = old.Spec
	keep := func(t certificatesv1.RequestConditionType) bool { return isApprovalCondition(t) == (sub == "status") }
	var conds []certificatesv1.CertificateSigningRequestCondition
	for _, c := range old.Status.Conditions {
		if keep(c.Type) {
			conds = append(conds, c)
		}
	}
	for _, c := range csr.Status.Conditions {
		if !keep(c.Type) {
			conds = append(conds, c)
		}
	}
	if sub == "approval" {
		csr.Status.Certificate = old.Status.Certificate
	}
	for i := range conds {
		c := &conds[i]
		if c.LastUpdateTime.IsZero() {
			c.LastUpdateTime = metav1.NewTime(now)
		}
		if c.LastTransitionTime.IsZero() {
			c.LastTransitionTime = metav1.NewTime(now)
		}
	}
	csr.Status.Conditions = conds
}

// csrValidateConditions checks status.conditions: a type each, no type twice, Approved and
// Denied True only and never both, Approved/Denied never removed once set.
func csrValidateConditions(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("status", "conditions")
	seen := map[certificatesv1.RequestConditionType]bool{}
	for i, c := range csr.Status.Conditions {
		if c.Type == "" {
			errs = append(errs, field.Required(p.Index(i).Child("type"), ""))
		}
		if seen[c.Type] && c.Type != "" {
			errs = append(errs, field.Duplicate(p.Index(i).Child("type"), c.Type))
		}
		seen[c.Type] = true
		switch {
		case c.Status == "":
			errs = append(errs, field.Required(p.Index(i).Child("status"), ""))
		case isApprovalCondition(c.Type) && c.Status != corev1.ConditionTrue:
			errs = append(errs, field.NotSupported(p.Index(i).Child("status"), c.Status, []string{string(corev1.ConditionTrue)}))
		case c.Status != corev1.ConditionTrue && c.Status != corev1.ConditionFalse && c.Status != corev1.ConditionUnknown:
			errs = append(errs, field.NotSupported(p.Index(i).Child("status"), c.Status, []string{"False", "True", "Unknown"}))
		}
	}
	if seen[certificatesv1.CertificateApproved] && seen[certificatesv1.CertificateDenied] {
		errs = append(errs, field.Invalid(p, csr.Status.Conditions, "Approved and Denied conditions are mutually exclusive"))
	}
	if old != nil {
		for _, c := range old.Status.Conditions {
			if isApprovalCondition(c.Type) && !seen[c.Type] {
				errs = append(errs, field.Forbidden(p, fmt.Sprintf("updates may not remove a condition of type %q", c.Type)))
			}
		}
	}
	return errs
}

// csrValidateStatusUpdate: conditions as always; the certificate is PEM CERTIFICATE blocks,
// set once and never changed.
func csrValidateStatusUpdate(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	errs := csrValidateConditions(csr, old)
	p := field.NewPath("status", "certificate")
	if len(old.Status.Certificate) > 0 && string(old.Status.Certificate) != string(csr.Status.Certificate) {
		errs = append(errs, field.Forbidden(p, "updates may not modify existing certificate content"))
	}
	if len(csr.Status.Certificate) > 0 {
		if err := validCertificatePEM(csr.Status.Certificate); err != nil {
			errs = append(errs, field.Invalid(p, "<certificate data>", err.Error()))
		}
	}
	return errs
}

func validCertificatePEM(b []byte) error {
	n := 0
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return fmt.Errorf("only CERTIFICATE PEM blocks are allowed, found %q", block.Type)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return err
		}
		n++
	}
	if n == 0 || len(strings.TrimSpace(string(b))) > 0 {
		return errors.New("must contain at least one CERTIFICATE PEM block and nothing else")
	}
	return nil
}
