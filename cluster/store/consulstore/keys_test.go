package consulstore

import (
	"strings"
	"testing"
)

var sampleKeys = []string{
	"pods/default/a", "/registry/pods/a", "a//b", "x/./y", "x/../y", "dot/.", "dot/..", ".", "..",
	"trail/", "/", "%", "%00", "a%25b", "a/%00", "a/.%00", "pods/default", "pods/default2/x", "",
}

func TestEncodeKeyRoundTripsAndAvoidsRewrittenSegments(t *testing.T) {
	for _, k := range sampleKeys {
		enc := encodeKey(k)
		for _, seg := range strings.Split(enc, "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Errorf("encodeKey(%q) = %q has segment %q", k, enc, seg)
			}
		}
		if got, err := decodeKey(enc); err != nil || got != k {
			t.Errorf("decodeKey(encodeKey(%q)) = %q, %v", k, got, err)
		}
	}
	if got := encodeKey("pods/default/a"); got != "pods/default/a" {
		t.Errorf("an ordinary key is changed: %q", got)
	}
}

// TestEncodePrefixKeepsPrefixes checks the property List and the hub rely on, over every pair of
// sample keys and every prefix of them.
func TestEncodePrefixKeepsPrefixes(t *testing.T) {
	for _, k := range sampleKeys {
		for _, other := range sampleKeys {
			for i := 0; i <= len(other); i++ {
				p := other[:i]
				want := strings.HasPrefix(k, p)
				got := strings.HasPrefix(encodeKey(k), encodePrefix(p))
				if got != want {
					t.Errorf("key %q prefix %q: encoded HasPrefix = %v, want %v (%q, %q)",
						k, p, got, want, encodeKey(k), encodePrefix(p))
				}
			}
		}
	}
}

func TestDecodeKeyRejectsForeignKeys(t *testing.T) {
	for _, enc := range []string{"a%zz", "a//b", "x/./y", "%", "ok/%00x", "a%00"} {
		if got, err := decodeKey(enc); err == nil {
			t.Errorf("decodeKey(%q) = %q, want an error", enc, got)
		}
	}
}

func TestNormalizePrefix(t *testing.T) {
	for in, want := range map[string]string{"": "", "drover": "drover/", "/drover/": "drover/", "a/b": "a/b/"} {
		if got, err := normalizePrefix(in); err != nil || got != want {
			t.Errorf("normalizePrefix(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"a//b", "a/./b", "../x"} {
		if _, err := normalizePrefix(bad); err == nil {
			t.Errorf("normalizePrefix(%q) accepted", bad)
		}
	}
}

func TestUnaddressable(t *testing.T) {
	for p, want := range map[string]bool{"x/.": true, "..": true, "x/.a": false, "x/": false, "": false} {
		if got := unaddressable(p); got != want {
			t.Errorf("unaddressable(%q) = %v", p, got)
		}
	}
}
