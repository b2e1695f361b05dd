package apiserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// PKI is the certificate authority and serving certificate kept in DIR/pki.
type PKI struct {
	CACertPEM []byte
	Cert      tls.Certificate

	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
}

// KubeletClientName is the common name of the API server's client certificate for node agents
// (cluster/nodeagent's APIServerClientName): node agents let in no other caller.
const KubeletClientName = "drover-apiserver-kubelet-client"

// CAPool is a pool holding the CA.
func (p *PKI) CAPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.caCert)
	return pool
}

// IssueServing issues a serving certificate for hosts (names and IPs) from the CA, in memory:
// what a node agent in the same process serves with.
func (p *PKI) IssueServing(cn string, hosts []string) (tls.Certificate, error) {
	return p.issue(cn, hosts, x509.ExtKeyUsageServerAuth)
}

// IssueClient issues a client certificate named cn from the CA, in memory.
func (p *PKI) IssueClient(cn string) (tls.Certificate, error) {
	return p.issue(cn, nil, x509.ExtKeyUsageClientAuth)
}

// IssueUser issues a client certificate for user (the subject's common name) in groups (its
// organizations) from the CA, in memory: the API server authenticates it as that user, as
// Kubernetes' x509 authenticator does. drover's own components in the API server's process
// get their identities this way.
func (p *PKI) IssueUser(user string, groups ...string) (tls.Certificate, error) {
	return p.issueSubject(pkix.Name{CommonName: user, Organization: groups}, nil, x509.ExtKeyUsageClientAuth)
}

// kubeletClient loads DIR/apiserver-kubelet-client.{crt,key}, (re)issuing it from the CA when
// it is missing, expiring or from another CA: the credential the API server presents to node
// agents. Every API server over the same CA has one (each issues its own at start).
func (p *PKI) kubeletClient(dir string) (tls.Certificate, error) {
	crtPath, keyPath := filepath.Join(dir, "apiserver-kubelet-client.crt"), filepath.Join(dir, "apiserver-kubelet-client.key")
	if cert, err := tls.LoadX509KeyPair(crtPath, keyPath); err == nil && covers(cert, p.caCert, nil) {
		return cert, nil
	}
	cert, err := p.issue(KubeletClientName, nil, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := writePEM(crtPath, "CERTIFICATE", cert.Certificate[0], 0o644); err != nil {
		return tls.Certificate{}, err
	}
	kb, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := writePEM(keyPath, "EC PRIVATE KEY", kb, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	return cert, nil
}

// EncodeCertificate is c's leaf certificate and key as PEM (what a kubeconfig's
// client-certificate-data and client-key-data hold).
func EncodeCertificate(c tls.Certificate) (certPEM, keyPEM []byte, err error) {
	key, ok := c.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("certificate key is %T, not ECDSA", c.PrivateKey)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), nil
}

func (p *PKI) issue(cn string, hosts []string, usage x509.ExtKeyUsage) (tls.Certificate, error) {
	return p.issueSubject(pkix.Name{CommonName: cn}, hosts, usage)
}

func (p *PKI) issueSubject(subject pkix.Name, hosts []string, usage x509.ExtKeyUsage) (tls.Certificate, error) {
	cn := subject.CommonName
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate key for %s: %w", cn, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      subject,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issue certificate for %s: %w", cn, err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// LoadOrCreatePKI reads DIR/pki/{ca,apiserver}.{crt,key}, creating the CA on first start and
// (re)issuing the serving certificate when it is missing, expiring or lacks one of hosts.
func LoadOrCreatePKI(dir string, hosts []string) (*PKI, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create pki dir: %w", err)
	}
	caCert, caKey, caPEM, err := loadOrCreateCA(dir)
	if err != nil {
		return nil, err
	}
	crtPath, keyPath := filepath.Join(dir, "apiserver.crt"), filepath.Join(dir, "apiserver.key")
	if cert, err := tls.LoadX509KeyPair(crtPath, keyPath); err == nil && covers(cert, caCert, hosts) {
		return &PKI{CACertPEM: caPEM, Cert: cert, caCert: caCert, caKey: caKey}, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate serving key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "drover-apiserver"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(2, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("issue serving certificate: %w", err)
	}
	if err := writePEM(crtPath, "CERTIFICATE", der, 0o644); err != nil {
		return nil, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := writePEM(keyPath, "EC PRIVATE KEY", kb, 0o600); err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(crtPath, keyPath)
	if err != nil {
		return nil, fmt.Errorf("load serving certificate: %w", err)
	}
	return &PKI{CACertPEM: caPEM, Cert: cert, caCert: caCert, caKey: caKey}, nil
}

func loadOrCreateCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	return loadOrCreateNamedCA(dir, "ca", "drover-ca")
}

// loadOrCreateNamedCA reads DIR/BASE.{crt,key}, creating a CA named cn there when missing.
func loadOrCreateNamedCA(dir, base, cn string) (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	crtPath, keyPath := filepath.Join(dir, base+".crt"), filepath.Join(dir, base+".key")
	if pair, err := tls.LoadX509KeyPair(crtPath, keyPath); err == nil {
		cert, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil {
			return nil, nil, nil, fmt.Errorf("parse %s: %w", crtPath, err)
		}
		key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
		if !ok {
			return nil, nil, nil, fmt.Errorf("%s: not an ECDSA key", keyPath)
		}
		pemBytes, err := os.ReadFile(crtPath)
		return cert, key, pemBytes, err
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil, fmt.Errorf("load CA from %s: %w", dir, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("generate CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("create CA: %w", err)
	}
	if err := writePEM(crtPath, "CERTIFICATE", der, 0o644); err != nil {
		return nil, nil, nil, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := writePEM(keyPath, "EC PRIVATE KEY", kb, 0o600); err != nil {
		return nil, nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// covers reports whether cert is signed by ca (which may have been recreated), is valid for
// another 30 days and names every host.
func covers(cert tls.Certificate, ca *x509.Certificate, hosts []string) bool {
	c, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil || time.Until(c.NotAfter) < 30*24*time.Hour || c.CheckSignatureFrom(ca) != nil {
		return false
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(c.IPAddresses, ip.Equal) {
				return false
			}
		} else if h != "" && !slices.Contains(c.DNSNames, h) {
			return false
		}
	}
	return true
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	b := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	if err := os.WriteFile(path, b, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}
