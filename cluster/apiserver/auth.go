package apiserver

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apiserver/pkg/authentication/user"
)

// Groups of the admin token's user, as kubeadm's admin.conf user has them.
var adminGroups = []string{user.SystemPrivilegedGroup, user.AllAuthenticated}

// authenticate finds who sent r, in the order of Kubernetes' authenticator union: a client
// certificate from drover's CA (CN the user, O its groups), else the bearer token: the admin
// token's user (group system:masters), a bootstrap token's (system:bootstrap:ID) or a
// ServiceAccount's. Every authenticated user is also in system:authenticated. With no tokens
// configured every request is the admin's.
func (s *Server) authenticate(r *http.Request) (user.Info, bool) {
	if len(s.tokens) == 0 {
		return &user.DefaultInfo{Name: "admin", Groups: adminGroups}, true
	}
	if s.certAuth != nil && r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		u, err := s.certAuth.authenticate(r.TLS.PeerCertificates)
		if err == nil {
			return withAuthenticated(u), true
		}
		// A certificate from another CA, expired or not for client auth: as Kubernetes, the
		// bearer token may still authenticate the request.
		s.log.Debug("client certificate refused", "path", r.URL.Path, "err", err)
	}
	tok, ok := bearerToken(r)
	if !ok {
		return nil, false
	}
	u, err := s.authenticateToken(r.Context(), tok)
	if err != nil {
		s.log.Debug("authentication failed", "path", r.URL.Path, "err", err)
		return nil, false
	}
	return withAuthenticated(u), true
}

// certAuthenticator is Kubernetes' x509 client certificate authenticator over roots
// (k8s.io/apiserver's request/x509 with CommonNameUserConversion): the chain the client sent
// must verify for client auth, the user is the subject's common name and the groups its
// organizations. It is written out here because upstream's records each request in a global
// histogram through Histogram.WithContext, an unsynchronised write the race detector reports
// on every concurrent request.
type certAuthenticator struct{ roots *x509.CertPool }

func newCertAuthenticator(roots *x509.CertPool) *certAuthenticator {
	return &certAuthenticator{roots: roots}
}

func (a *certAuthenticator) authenticate(certs []*x509.Certificate) (user.Info, error) {
	opts := x509.VerifyOptions{Roots: a.roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if len(certs) > 1 {
		opts.Intermediates = x509.NewCertPool()
		for _, c := range certs[1:] {
			opts.Intermediates.AddCert(c)
		}
	}
	if _, err := certs[0].Verify(opts); err != nil {
		return nil, fmt.Errorf("verifying certificate with subject %q failed: %w", certs[0].Subject.String(), err)
	}
	if certs[0].Subject.CommonName == "" {
		return nil, errors.New("common name of user must not be empty")
	}
	return &user.DefaultInfo{Name: certs[0].Subject.CommonName, Groups: slices.Clone(certs[0].Subject.Organization)}, nil
}

// withAuthenticated adds system:authenticated to u's groups when missing (Kubernetes'
// authenticated group adder).
func withAuthenticated(u user.Info) user.Info {
	groups := u.GetGroups()
	if slices.Contains(groups, user.AllAuthenticated) {
		return u
	}
	return &user.DefaultInfo{Name: u.GetName(), UID: u.GetUID(), Extra: u.GetExtra(),
		Groups: append(slices.Clip(groups), user.AllAuthenticated)}
}

// bearerToken is the token of r's Authorization header. The scheme is case-insensitive, as in
// Kubernetes' bearer token authenticator.
func bearerToken(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// errUnknownToken: no authenticator knows the token.
var errUnknownToken = errors.New("invalid bearer token")

// authenticateToken is the user a bearer token names: the admin's (static tokens) or a
// ServiceAccount's (signed by this server, in its time window, for the API server's
// audience, its objects still there).
func (s *Server) authenticateToken(ctx context.Context, tok string) (user.Info, error) {
	for known, name := range s.tokens {
		if subtle.ConstantTimeCompare([]byte(known), []byte(tok)) == 1 {
			return &user.DefaultInfo{Name: name, Groups: adminGroups}, nil
		}
	}
	if u, ok, err := s.bootstrapTokenUser(ctx, tok); ok || err != nil {
		return u, err
	}
	if s.signer == nil {
		return nil, errUnknownToken
	}
	return s.serviceAccountUser(ctx, tok, s.audiences)
}

// LoadOrCreateToken returns the token stored in path, creating a random one (mode 0600) if
// the file does not exist.
func LoadOrCreateToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", fmt.Errorf("token file %s is empty", path)
		}
		return tok, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read token: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	tok := hex.EncodeToString(raw)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("create token dir: %w", err)
	}
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write token: %w", err)
	}
	return tok, nil
}
