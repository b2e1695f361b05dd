package jenkinstest

import "strings"

// tree is a parsed ?tree= parameter: field name → subtree (nil = whole value).
type tree map[string]tree

func parseTree(s string) tree {
	t, _ := parseTreeAt(s, 0)
	return t
}

func parseTreeAt(s string, i int) (tree, int) {
	t := tree{}
	name := strings.Builder{}
	flush := func() {
		if n := strings.TrimSpace(name.String()); n != "" {
			if _, ok := t[n]; !ok {
				t[n] = nil
			}
		}
		name.Reset()
	}
	for i < len(s) {
		switch c := s[i]; c {
		case ',':
			flush()
			i++
		case '[':
			n := strings.TrimSpace(name.String())
			name.Reset()
			var sub tree
			sub, i = parseTreeAt(s, i+1)
			t[n] = sub
		case ']':
			flush()
			return t, i + 1
		default:
			name.WriteByte(c)
			i++
		}
	}
	flush()
	return t, i
}

// filter keeps only the fields t names (and _class), as Jenkins does. Keys
// absent from v stay absent; null values stay null.
func (t tree) filter(v any) any {
	if t == nil {
		return v
	}
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		if c, ok := v["_class"]; ok {
			out["_class"] = c
		}
		for k, sub := range t {
			if val, ok := v[k]; ok {
				out[k] = sub.filter(val)
			}
		}
		return out
	case []map[string]any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = t.filter(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = t.filter(e)
		}
		return out
	}
	return v
}
