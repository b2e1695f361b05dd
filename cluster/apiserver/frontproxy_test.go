package apiserver

import (
	"strings"
	"testing"
)

// Several API servers with different CAs over one store are all trusted: the CA bundles and
// lists of extension-apiserver-authentication are unions.
func TestMergeTrust(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadOrCreateFrontProxy(dir)
	if err == nil { // made once: loaded the second time
		var again *FrontProxy
		if again, err = LoadOrCreateFrontProxy(dir); err == nil && string(again.CACertPEM) != string(a.CACertPEM) {
			t.Error("the front-proxy CA was made again")
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateFrontProxy(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	got := mergeTrust("requestheader-client-ca-file", string(a.CACertPEM), string(b.CACertPEM))
	if strings.Count(got, "BEGIN CERTIFICATE") != 2 || !strings.Contains(got, string(a.CACertPEM)) || !strings.Contains(got, string(b.CACertPEM)) {
		t.Errorf("merged bundle:\n%s", got)
	}
	if again := mergeTrust("requestheader-client-ca-file", got, string(b.CACertPEM)); again != got {
		t.Errorf("merging a CA already there changed the bundle")
	}
	if got := mergeTrust("requestheader-allowed-names", `["front-proxy-client","other"]`, `["front-proxy-client"]`); got != `["front-proxy-client","other"]` {
		t.Errorf("merged list %s", got)
	}
}
