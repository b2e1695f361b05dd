package apiserver_test

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/drover-ci/drover/cluster/apiserver"
)

// verifyServing checks the serving certificate chains to the PKI's CA for host.
func verifyServing(t *testing.T, p *apiserver.PKI, host string) error {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(p.CACertPEM) {
		t.Fatal("CA PEM does not parse")
	}
	leaf, err := x509.ParseCertificate(p.Cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	_, err = leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: host})
	return err
}

func TestPKIReusedAndReissued(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "pki")
	p1, err := apiserver.LoadOrCreatePKI(dir, []string{"localhost", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"localhost", "127.0.0.1"} {
		if err := verifyServing(t, p1, h); err != nil {
			t.Errorf("serving certificate for %s: %v", h, err)
		}
	}
	if err := verifyServing(t, p1, "other.example"); err == nil {
		t.Errorf("serving certificate valid for a host it does not name")
	}
	if st, err := os.Stat(filepath.Join(dir, "ca.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("ca.key mode: %v %v", st, err)
	}

	p2, err := apiserver.LoadOrCreatePKI(dir, []string{"localhost", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p1.CACertPEM, p2.CACertPEM) || !bytes.Equal(p1.Cert.Certificate[0], p2.Cert.Certificate[0]) {
		t.Errorf("second start regenerated the CA or the serving certificate")
	}

	// A new host: same CA, new serving certificate naming it.
	p3, err := apiserver.LoadOrCreatePKI(dir, []string{"localhost", "127.0.0.1", "drover.example"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p1.CACertPEM, p3.CACertPEM) {
		t.Errorf("adding a host replaced the CA")
	}
	if err := verifyServing(t, p3, "drover.example"); err != nil {
		t.Errorf("reissued certificate: %v", err)
	}

	// A lost CA is recreated, and the serving certificate must then be signed by the new one.
	for _, f := range []string{"ca.crt", "ca.key"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	p4, err := apiserver.LoadOrCreatePKI(dir, []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(p1.CACertPEM, p4.CACertPEM) {
		t.Fatalf("CA not recreated")
	}
	if err := verifyServing(t, p4, "localhost"); err != nil {
		t.Errorf("serving certificate after a new CA: %v", err)
	}
}

func TestTokenReusedAndPrivate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "admin.token")
	tok, err := apiserver.LoadOrCreateToken(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) < 32 {
		t.Errorf("token %q is short", tok)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("token file mode: %v %v", st, err)
	}
	again, err := apiserver.LoadOrCreateToken(path)
	if err != nil || again != tok {
		t.Errorf("second load: %q %v, want the same token", again, err)
	}
	other, _ := apiserver.LoadOrCreateToken(filepath.Join(t.TempDir(), "admin.token"))
	if other == tok {
		t.Errorf("two data dirs got the same token")
	}
	empty := filepath.Join(t.TempDir(), "empty.token")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := apiserver.LoadOrCreateToken(empty); err == nil {
		t.Errorf("an empty token file was accepted")
	}
}
