package app

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/certificate"
	bootstraptokens "k8s.io/cluster-bootstrap/token/util"
)

// joiner is `drover node --token ID.SECRET`: the kubelet's TLS bootstrap. The API server's CA
// is pinned by --ca-cert-hash (or read from --certificate-authority); each node agent then has
// its own client certificate, system:node:NAME in system:nodes, requested with the bootstrap
// token through a kubernetes.io/kube-apiserver-client-kubelet CertificateSigningRequest (which
// drover's controllers approve and sign), kept in DATA-DIR/pki and renewed with itself before
// it expires. The token is only used while a node has no valid certificate.
type joiner struct {
	server string
	token  string
	caPEM  []byte
	dir    string
	log    *slog.Logger

	managers []certificate.Manager
}

// isBootstrapToken reports whether tok has the form of a bootstrap token, [a-z0-9]{6}.[a-z0-9]{16}.
func isBootstrapToken(tok string) bool { return bootstraptokens.IsValidBootstrapToken(tok) }

// newJoiner checks the join flags, and pins or reads the API server's CA before the token is
// ever sent.
func newJoiner(ctx context.Context, server, token, caFile, caHash, dataDir string, log *slog.Logger) (*joiner, error) {
	if server == "" {
		return nil, errors.New("--server: the API server's URL (https://HOST:PORT) is required to join with a bootstrap token")
	}
	j := &joiner{server: server, token: token, dir: filepath.Join(dataDir, "pki"), log: log}
	switch {
	case caFile != "":
		b, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--certificate-authority: %w", err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("--certificate-authority %s: no PEM certificate", caFile)
		}
		j.caPEM = b
	case caHash != "":
		b, err := pinnedCA(ctx, server, caHash)
		if err != nil {
			return nil, err
		}
		j.caPEM = b
	default:
		return nil, errors.New("joining with a bootstrap token needs the API server's CA: give --ca-cert-hash sha256:... (drover token create --print-join-command prints it) or --certificate-authority FILE")
	}
	if err := os.MkdirAll(j.dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(j.dir, "ca.crt"), j.caPEM, 0o644); err != nil {
		return nil, err
	}
	return j, nil
}

// CACertHash is the --ca-cert-hash of a CA certificate: sha256 of its DER
// SubjectPublicKeyInfo, as kubeadm's --discovery-token-ca-cert-hash.
func CACertHash(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// pinnedCA connects to server, finds in the chain it serves the CA whose public key has the
// hash, checks the serving certificate against it for the server's host, and returns it as
// PEM. Nothing but the TLS handshake is sent.
func pinnedCA(ctx context.Context, server, hash string) ([]byte, error) {
	want := strings.ToLower(strings.TrimSpace(hash))
	if !strings.HasPrefix(want, "sha256:") || len(want) != len("sha256:")+64 {
		return nil, fmt.Errorf("--ca-cert-hash %q: want sha256:<64 hex digits>", hash)
	}
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("--server %q: want https://HOST:PORT", server)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "443"
	}
	var ca *x509.Certificate
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true, // verified below, against the pinned CA
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			certs := make([]*x509.Certificate, 0, len(raw))
			for _, r := range raw {
				c, err := x509.ParseCertificate(r)
				if err != nil {
					return err
				}
				certs = append(certs, c)
				if c.IsCA && CACertHash(c) == want {
					ca = c
				}
			}
			if ca == nil || len(certs) == 0 {
				return fmt.Errorf("the API server at %s serves no CA with public key hash %s", server, want)
			}
			pool := x509.NewCertPool()
			pool.AddCert(ca)
			_, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, DNSName: host})
			return err
		}}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, fmt.Errorf("discovering the API server's CA at %s: %w", server, err)
	}
	conn.Close()
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}), nil
}

// config is the API client configuration of node: its client certificate, kept in
// DATA-DIR/pki/PREFIX-current.pem (prefix kubelet-client, as the kubelet's), requested when
// the stored one is missing, expired or from another CA, and renewed in the background (at
// 70-90 % of its lifetime, client-go's certificate manager, the kubelet's) until Stop; the
// returned configuration reads the file, so that clients pick up a renewed certificate.
func (j *joiner) config(ctx context.Context, node, prefix string) (*rest.Config, error) {
	store, err := certificate.NewFileStore(prefix, j.dir, j.dir, "", "")
	if err != nil {
		return nil, fmt.Errorf("node credential store: %w", err)
	}
	base := j.base()
	m, err := certificate.NewManager(&certificate.Config{
		Name: prefix,
		ClientsetFn: func(current *tls.Certificate) (kubernetes.Interface, error) {
			cfg := rest.CopyConfig(base)
			if current == nil {
				// No valid certificate yet: ask with the bootstrap token.
				cfg.BearerToken = j.token
				return kubernetes.NewForConfig(cfg)
			}
			cfg.TLSClientConfig.CertFile, cfg.TLSClientConfig.KeyFile = store.CurrentPath(), store.CurrentPath()
			return kubernetes.NewForConfig(cfg)
		},
		Template:         &x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:" + node, Organization: []string{user.NodesGroup}}},
		SignerName:       certificatesv1.KubeAPIServerClientKubeletSignerName,
		GetUsages:        certificate.DefaultKubeletClientGetUsages,
		CertificateStore: store,
	})
	if err != nil {
		return nil, fmt.Errorf("node credential: %w", err)
	}
	if c := m.Current(); c != nil && c.Leaf != nil && !chainsTo(c.Leaf, j.caPEM) {
		return nil, fmt.Errorf("the client certificate in %s is not from the API server's CA (another cluster's?): remove it to join again", store.CurrentPath())
	}
	if m.Current() == nil {
		// Fail at once on a token the API server refuses (unknown, expired, deleted), rather
		// than retrying the request forever as the certificate manager would.
		if err := j.checkToken(ctx); err != nil {
			return nil, err
		}
		j.log.Info("joining: requesting the node's client certificate with the bootstrap token (drover's controllers approve and sign it)", "node", node)
	}
	m.Start()
	j.managers = append(j.managers, m)
	for m.Current() == nil {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for node %s's client certificate: %w", node, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	j.log.Info("node client certificate ready", "node", node, "file", store.CurrentPath(), "notAfter", m.Current().Leaf.NotAfter)
	cfg := rest.CopyConfig(base)
	cfg.TLSClientConfig.CertFile, cfg.TLSClientConfig.KeyFile = store.CurrentPath(), store.CurrentPath()
	return cfg, nil
}

// checkToken asks the API server who the bootstrap token is (SelfSubjectReview).
func (j *joiner) checkToken(ctx context.Context) error {
	cfg := j.base()
	cfg.BearerToken = j.token
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	_, err = cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if apierrors.IsUnauthorized(err) {
		return fmt.Errorf("the API server refused the bootstrap token (unknown, expired or deleted: drover token create makes a new one): %w", err)
	}
	if err != nil {
		return fmt.Errorf("checking the bootstrap token at %s: %w", j.server, err)
	}
	return nil
}

// base is the API server's address and CA, without credentials.
func (j *joiner) base() *rest.Config {
	return &rest.Config{Host: j.server, TLSClientConfig: rest.TLSClientConfig{CAData: j.caPEM}, UserAgent: "drover-node"}
}

// Stop ends the certificate renewals.
func (j *joiner) Stop() {
	for _, m := range j.managers {
		m.Stop()
	}
}

func chainsTo(leaf *x509.Certificate, caPEM []byte) bool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	_, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return err == nil
}
