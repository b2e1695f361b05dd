package apiserver

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apiserver/pkg/authentication/user"
)

// Groups of the admin token's user, as kubeadm's admin.conf user has them.
var adminGroups = []string{user.SystemPrivilegedGroup, user.AllAuthenticated}

// authenticate finds who sent r: the admin token's user (group system:masters) or a
// ServiceAccount of a valid token. With no tokens configured every request is the admin's.
func (s *Server) authenticate(r *http.Request) (user.Info, bool) {
	if len(s.tokens) == 0 {
		return &user.DefaultInfo{Name: "admin", Groups: adminGroups}, true
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
	return u, true
}

// authenticated reports whether r carries a valid credential.
func (s *Server) authenticated(r *http.Request) bool {
	_, ok := s.authenticate(r)
	return ok
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
