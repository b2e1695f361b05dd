package csrsigner

import (
	"crypto/x509"
	"errors"
	"slices"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apiserver/pkg/authentication/user"
)

// Kubernetes' approval messages for node client certificates (csrapproving).
const (
	msgNodeClient     = "Auto approving kubelet client certificate after SubjectAccessReview."
	msgSelfNodeClient = "Auto approving self kubelet client certificate after SubjectAccessReview."
)

// parseClientRequest is the CSR's request when it has the shape of a node's client request
// (Kubernetes' ValidateKubeletClientCSR): subject CN=system:node:NAME O=system:nodes only, no
// subject alternative names at all, usages client auth and digital signature (key
// encipherment allowed) only.
func parseClientRequest(csr *certificatesv1.CertificateSigningRequest) (*x509.CertificateRequest, error) {
	req, err := parseNodeRequest(csr, certificatesv1.UsageClientAuth)
	if err != nil {
		return nil, err
	}
	if len(req.DNSNames)+len(req.IPAddresses)+len(req.EmailAddresses)+len(req.URIs) > 0 {
		return nil, errors.New("DNS, IP, e-mail and URI subject alternative names are not allowed")
	}
	return req, nil
}

// ClientApproval says whether a well-formed node client request is approved, and with which
// message ("" when it is not), as Kubernetes' csrapproving does for its two cases: a node
// renewing its own certificate (selfnodeclient: the requestor is system:node:NAME itself) and
// a new node joining (nodeclient: the requestor authenticated with a bootstrap token, group
// system:bootstrappers, or is an admin in system:masters). Kubernetes asks a
// SubjectAccessReview for certificatesigningrequests/nodeclient and /selfnodeclient, which
// its default bindings grant to exactly those groups.
func ClientApproval(csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) string {
	switch {
	case csr.Spec.Username == req.Subject.CommonName:
		return msgSelfNodeClient
	case slices.Contains(csr.Spec.Groups, "system:bootstrappers"), slices.Contains(csr.Spec.Groups, user.SystemPrivilegedGroup):
		return msgNodeClient
	}
	return ""
}
