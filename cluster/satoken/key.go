// Package satoken signs and verifies ServiceAccount tokens: JWTs with Kubernetes' claims
// (bound tokens from the TokenRequest API, and the legacy tokens of kubernetes.io/service-account-token
// Secrets), signed (ES256, or RS256 with an RSA key) with a key kept in the data dir (pki/sa.key and pki/sa.pub, as kubeadm
// names them). Checking that a token's objects still exist is the API server's part.
package satoken

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Key files in the pki directory.
const (
	PrivateKeyFile = "sa.key"
	PublicKeyFile  = "sa.pub"
)

// LoadOrCreateKey reads DIR/sa.key (ECDSA or RSA, PEM), creating an ECDSA P-256 key pair
// (sa.key mode 0600, sa.pub; tokens are signed ES256, which Kubernetes also accepts) on first
// start. Several API servers over one store must share this key, as they share the
// CA: the store does not carry it.
func LoadOrCreateKey(dir string) (crypto.Signer, error) {
	path := filepath.Join(dir, PrivateKeyFile)
	b, err := os.ReadFile(path)
	if err == nil {
		return parseKey(path, b)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read service account key: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate service account key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create pki dir: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, PublicKeyFile), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		return nil, fmt.Errorf("write service account public key: %w", err)
	}
	// Written last and exclusively: a concurrent first start of another server on the same
	// directory loses the race and reads this key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadOrCreateKey(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("write service account key: %w", err)
	}
	defer f.Close()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := pem.Encode(f, &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}); err != nil {
		return nil, fmt.Errorf("write service account key: %w", err)
	}
	return key, f.Close()
}

func parseKey(path string, b []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("%s: want an ECDSA or RSA key, have %T", path, k)
}

// keyID is Kubernetes' key id for a public key: the unpadded base64url SHA-256 of its PKIX DER.
func keyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}
