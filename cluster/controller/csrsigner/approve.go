package csrsigner

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"crypto/x509"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/drover-ci/drover/cluster/registry"
)

const nodeUserPrefix = "system:node:"

// parseRequest is the CSR's request when it has the shape of a node's serving request:
// subject CN=system:node:NAME O=system:nodes only, no e-mail or URI names, at least one DNS
// name or IP, and usages digital signature (+ key encipherment) + server auth only.
func parseRequest(csr *certificatesv1.CertificateSigningRequest) (*x509.CertificateRequest, error) {
	req, err := parseNodeRequest(csr, certificatesv1.UsageServerAuth)
	if err != nil {
		return nil, err
	}
	if len(req.EmailAddresses) > 0 || len(req.URIs) > 0 {
		return nil, errors.New("e-mail and URI subject alternative names are not allowed")
	}
	if len(req.DNSNames)+len(req.IPAddresses) == 0 {
		return nil, errors.New("at least one DNS or IP subject alternative name is required")
	}
	return req, nil
}

// parseNodeRequest parses a node's request, serving or client: subject CN=system:node:NAME
// O=system:nodes only, usages digital signature and want (client or server auth), key
// encipherment allowed, nothing else.
func parseNodeRequest(csr *certificatesv1.CertificateSigningRequest, want certificatesv1.KeyUsage) (*x509.CertificateRequest, error) {
	req, err := registry.ParseCSR(csr.Spec.Request)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(req.Subject.CommonName, nodeUserPrefix) || len(req.Subject.CommonName) == len(nodeUserPrefix) {
		return nil, fmt.Errorf("subject common name %q does not begin with %s", req.Subject.CommonName, nodeUserPrefix)
	}
	if !slices.Equal(req.Subject.Organization, []string{user.NodesGroup}) {
		return nil, fmt.Errorf("subject organization %v is not [%s]", req.Subject.Organization, user.NodesGroup)
	}
	var wanted, sig bool
	for _, u := range csr.Spec.Usages {
		switch u {
		case want:
			wanted = true
		case certificatesv1.UsageDigitalSignature:
			sig = true
		case certificatesv1.UsageKeyEncipherment:
		default:
			return nil, fmt.Errorf("usage %q is not allowed (only digital signature, key encipherment, %s)", u, want)
		}
	}
	if !wanted || !sig {
		return nil, fmt.Errorf("usages must include digital signature and %s", want)
	}
	return req, nil
}

func nodeName(req *x509.CertificateRequest) string {
	return strings.TrimPrefix(req.Subject.CommonName, nodeUserPrefix)
}

// ApprovalRefusal says why a well-formed node serving request is not approved ("" when it
// is): the requestor must be the node itself or an admin (system:masters), and every name
// must be the Node's: DNS names its name or a Hostname/InternalDNS/ExternalDNS address, IPs
// its InternalIP/ExternalIP addresses.
func ApprovalRefusal(csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest, node *corev1.Node) string {
	if csr.Spec.Username != req.Subject.CommonName && !slices.Contains(csr.Spec.Groups, user.SystemPrivilegedGroup) {
		return fmt.Sprintf("requestor %q is neither %s nor in %s", csr.Spec.Username, req.Subject.CommonName, user.SystemPrivilegedGroup)
	}
	dns := []string{node.Name}
	var ips []string
	for _, a := range node.Status.Addresses {
		switch a.Type {
		case corev1.NodeHostName, corev1.NodeInternalDNS, corev1.NodeExternalDNS:
			dns = append(dns, a.Address)
		case corev1.NodeInternalIP, corev1.NodeExternalIP:
			ips = append(ips, a.Address)
		}
	}
	for _, d := range req.DNSNames {
		if !slices.Contains(dns, d) {
			return fmt.Sprintf("DNS name %q is not one of node %s's", d, node.Name)
		}
	}
	for _, ip := range req.IPAddresses {
		if !slices.Contains(ips, ip.String()) {
			return fmt.Sprintf("IP address %s is not one of node %s's", ip, node.Name)
		}
	}
	return ""
}
