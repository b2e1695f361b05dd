package chart

import (
	"fmt"
	"strconv"
	"strings"
)

// Merge merges src over dst (maps key by key, anything else replaced) and returns dst.
func Merge(dst, src map[string]any) map[string]any {
	if dst == nil {
		dst = map[string]any{}
	}
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = Merge(dm, sm)
				continue
			}
			dst[k] = Merge(map[string]any{}, sm)
			continue
		}
		dst[k] = v
	}
	return dst
}

// Set applies one --set assignment (a.b.c=value, several separated by commas) to values, as
// Helm's --set does for scalars: true/false become booleans, integers numbers, null removes
// the key, anything else is a string (use SetString for a string that looks like a number).
func Set(values map[string]any, assignment string) error {
	return set(values, assignment, false)
}

// SetString is Helm's --set-string: every value is a string.
func SetString(values map[string]any, assignment string) error {
	return set(values, assignment, true)
}

func set(values map[string]any, assignment string, asString bool) error {
	for _, a := range strings.Split(assignment, ",") {
		key, val, ok := strings.Cut(a, "=")
		if !ok || key == "" {
			return fmt.Errorf("--set %q: want key=value", a)
		}
		parts := strings.Split(key, ".")
		m := values
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		last := parts[len(parts)-1]
		switch {
		case asString:
			m[last] = val
		case val == "null":
			delete(m, last)
		case val == "true" || val == "false":
			m[last] = val == "true"
		default:
			if n, err := strconv.ParseInt(val, 10, 64); err == nil && (val == "0" || !strings.HasPrefix(val, "0")) {
				m[last] = n
			} else {
				m[last] = val
			}
		}
	}
	return nil
}

func deepCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case map[string]any:
			out[k] = deepCopy(x)
		case []any:
			out[k] = append([]any(nil), x...)
		default:
			out[k] = v
		}
	}
	return out
}
