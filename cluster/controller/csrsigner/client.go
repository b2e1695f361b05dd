package csrsigner

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// A clientRecognizer is one of Kubernetes' csrapproving cases for node client requests: the
// permission (create on a subresource of certificatesigningrequests) the requestor must hold,
// by SubjectAccessReview, for the request to be approved with msg.
type clientRecognizer struct {
	subresource, msg string
}

// clientRecognizers are the cases a well-formed node client request falls in, in the order
// Kubernetes tries them: a node renewing its own certificate (selfnodeclient: the requestor is
// system:node:NAME itself), then any node client request (nodeclient: what the default
// bindings grant the bootstrap tokens' group, and cluster-admin has).
func clientRecognizers(csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) []clientRecognizer {
	nodeClient := clientRecognizer{"nodeclient", msgNodeClient}
	if csr.Spec.Username == req.Subject.CommonName {
		return []clientRecognizer{{"selfnodeclient", msgSelfNodeClient}, nodeClient}
	}
	return []clientRecognizer{nodeClient}
}

// requestorMay asks the API server whether the CSR's requestor (user, UID, groups and extra
// as the API server recorded them) may create the certificatesigningrequests subresource.
func (c *Controller) requestorMay(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, subresource string) (bool, error) {
	extra := map[string]authorizationv1.ExtraValue{}
	for k, v := range csr.Spec.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	sar, err := c.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{User: csr.Spec.Username, UID: csr.Spec.UID, Groups: csr.Spec.Groups, Extra: extra,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Group: certificatesv1.GroupName, Version: "*",
				Resource: "certificatesigningrequests", Subresource: subresource, Verb: "create"}}}, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("SubjectAccessReview of %s for CSR %s: %w", subresource, csr.Name, err)
	}
	return sar.Status.Allowed, nil
}
