package consulstore

import (
	"fmt"
	"strings"
)

// Consul's HTTP API cannot address a key with an empty, "." or ".." path segment: its router
// cleans the URL path and redirects ("a//b" becomes "a/b"). Store keys may contain any of
// those, so each such segment gets the marker "%00" appended and a literal '%' is written
// "%25", which makes the marker unambiguous. The mapping keeps prefixes: a key starts with p
// exactly when encodeKey(key) starts with encodePrefix(p); keys without '%' and without such
// segments (every API object key) are stored as they are.

const marker = "%00"

// encodeKey maps a store key to the Consul key below the store's Prefix.
func encodeKey(key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = encodeSegment(s)
	}
	return strings.Join(segs, "/")
}

// encodePrefix maps a key prefix: its last, possibly partial, segment is only escaped.
func encodePrefix(prefix string) string {
	segs := strings.Split(prefix, "/")
	last := len(segs) - 1
	for i := range segs[:last] {
		segs[i] = encodeSegment(segs[i])
	}
	segs[last] = escape(segs[last])
	return strings.Join(segs, "/")
}

func encodeSegment(s string) string {
	if s == "" || s == "." || s == ".." {
		return s + marker
	}
	return escape(s)
}

func escape(s string) string { return strings.ReplaceAll(s, "%", "%25") }

// decodeKey inverts encodeKey; it fails for a Consul key that encodeKey cannot produce.
func decodeKey(enc string) (string, error) {
	segs := strings.Split(enc, "/")
	for i, s := range segs {
		special := strings.HasSuffix(s, marker)
		s = strings.TrimSuffix(s, marker)
		if special != (s == "" || s == "." || s == "..") {
			return "", fmt.Errorf("consulstore: %q is not an encoded key", enc)
		}
		if strings.Count(s, "%") != strings.Count(s, "%25") {
			return "", fmt.Errorf("consulstore: %q is not an encoded key", enc)
		}
		segs[i] = strings.ReplaceAll(s, "%25", "%")
	}
	return strings.Join(segs, "/"), nil
}

// unaddressable reports whether a Consul key prefix ends in a segment that Consul's router
// would rewrite ("." or ".."), so that List must ask for its parent and filter.
func unaddressable(encPrefix string) bool {
	last := encPrefix[strings.LastIndexByte(encPrefix, '/')+1:]
	return last == "." || last == ".."
}

// normalizePrefix makes the configured Prefix end with "/" (unless empty) and checks that
// Consul can address it.
func normalizePrefix(p string) (string, error) {
	p = strings.TrimLeft(p, "/")
	if p != "" && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	for _, s := range strings.Split(strings.TrimSuffix(p, "/"), "/") {
		if p != "" && (s == "" || s == "." || s == "..") {
			return "", fmt.Errorf("consulstore: prefix %q has an empty, \".\" or \"..\" segment", p)
		}
	}
	return p, nil
}
