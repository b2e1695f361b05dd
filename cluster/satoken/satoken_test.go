package satoken

import (
	"crypto/ecdsa"
	"errors"
	"testing"
	"time"
)

// TestKeyKept: the key is created once and read back by the next start (another server
// over the same pki/ signs tokens the first one accepts).
func TestKeyKept(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.(*ecdsa.PrivateKey).Equal(k2) {
		t.Fatal("a second start made a new key")
	}
	s1, _ := NewSigner(k1)
	s2, _ := NewSigner(k2)
	now := time.Unix(1_700_000_000, 0)
	tok, err := s1.Sign(Bound{Namespace: "ci", Name: "default", UID: "u1", Audiences: []string{Issuer}, Now: now,
		Expiration: time.Hour, Pod: &Ref{Name: "p", UID: "u2"}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s2.Verify(tok, now.Add(time.Minute), []string{Issuer})
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "system:serviceaccount:ci:default" || c.Kubernetes.Pod.Name != "p" || c.Kubernetes.ServiceAccount.UID != "u1" ||
		c.Issuer != Issuer || c.IssuedAt == nil || c.NotBefore == nil {
		t.Fatalf("claims: %+v", c)
	}
	if _, err := s2.Verify(tok, now.Add(time.Hour+time.Second), []string{Issuer}); !errors.Is(err, ErrExpired) {
		t.Fatalf("an hour later: %v", err)
	}
	if _, err := s2.Verify(tok, now.Add(-time.Second), []string{Issuer}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("before nbf: %v", err)
	}
	if _, err := s2.Verify(tok, now, []string{"vault"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("another audience: %v", err)
	}
	other, _ := LoadOrCreateKey(t.TempDir())
	s3, _ := NewSigner(other)
	if _, err := s3.Verify(tok, now, []string{Issuer}); !errors.Is(err, ErrNotOurs) {
		t.Fatalf("another key: %v", err)
	}
	if _, err := s3.Verify("0123456789abcdef", now, []string{Issuer}); !errors.Is(err, ErrNotOurs) {
		t.Fatalf("a static token: %v", err)
	}
}
