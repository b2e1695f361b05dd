package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/certificate/csr"
)

// nodeCertRenewBefore: a stored serving certificate with less than this part of its lifetime
// left is replaced at start (as the kubelet rotates at 70–90 % of the lifetime).
const nodeCertRenewBefore = 0.2

// csrIssuer is the node agent's Issue for `drover node` without --tls-cert-file: its serving
// certificate from the cluster's CA through a kubernetes.io/kubelet-serving
// CertificateSigningRequest, as the kubelet's serverTLSBootstrap does. A certificate stored
// in dir (kubelet-server.{crt,key}) that chains to roots, covers the names and is not near
// its end is reused; else a new key is made, the request created, and the issued certificate
// (approved and signed by the controller manager's csrsigner, or by `kubectl certificate
// approve`) stored. It blocks until the certificate comes or ctx ends.
func csrIssuer(ctx context.Context, client kubernetes.Interface, dir string, roots *x509.CertPool, log *slog.Logger) func(string, []string) (tls.Certificate, error) {
	return func(node string, hosts []string) (tls.Certificate, error) {
		var dns []string
		var ips []net.IP
		for _, h := range hosts {
			ip := net.ParseIP(h)
			switch {
			case h == "" || h == "localhost" || ip != nil && ip.IsLoopback():
				// The API server dials the node's name or address; no approver signs loopback.
			case ip != nil:
				ips = append(ips, ip)
			default:
				dns = append(dns, h)
			}
		}
		crtPath, keyPath := filepath.Join(dir, "kubelet-server.crt"), filepath.Join(dir, "kubelet-server.key")
		if c, err := tls.LoadX509KeyPair(crtPath, keyPath); err == nil && usableServing(c, roots, dns, ips, time.Now()) {
			log.Info("node serving certificate reused", "file", crtPath, "notAfter", c.Leaf.NotAfter)
			return c, nil
		}
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("serving key: %w", err)
		}
		req, err := cert.MakeCSR(key, &pkix.Name{CommonName: "system:node:" + node, Organization: []string{user.NodesGroup}}, dns, ips)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("serving certificate request: %w", err)
		}
		usages := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth}
		name, uid, err := csr.RequestCertificate(client, req, "", certificatesv1.KubeletServingSignerName, nil, usages, key)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("creating the serving CertificateSigningRequest: %w", err)
		}
		log.Info("waiting for the serving certificate: CertificateSigningRequest created (drover's controllers approve and sign it; else kubectl certificate approve)", "csr", name)
		crtPEM, err := csr.WaitForCertificate(ctx, client, name, uid)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("waiting for CertificateSigningRequest %s: %w", name, err)
		}
		kb, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return tls.Certificate{}, err
		}
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
		c, err := tls.X509KeyPair(crtPEM, keyPEM)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("CertificateSigningRequest %s: %w", name, err)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return tls.Certificate{}, err
		}
		if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
			return tls.Certificate{}, err
		}
		if err := os.WriteFile(crtPath, crtPEM, 0o644); err != nil {
			return tls.Certificate{}, err
		}
		log.Info("node serving certificate issued", "csr", name, "file", crtPath, "notAfter", c.Leaf.NotAfter)
		return c, nil
	}
}

// usableServing reports whether c chains to roots for server auth, names every DNS name and
// IP, and has more than nodeCertRenewBefore of its lifetime left at now.
func usableServing(c tls.Certificate, roots *x509.CertPool, dns []string, ips []net.IP, now time.Time) bool {
	leaf := c.Leaf
	if leaf == nil {
		return false
	}
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	if leaf.NotAfter.Sub(now) < time.Duration(float64(life)*nodeCertRenewBefore) {
		return false
	}
	for _, h := range dns {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: h, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			return false
		}
	}
	for _, ip := range ips {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: ip.String(), CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			return false
		}
	}
	return len(dns)+len(ips) > 0
}
