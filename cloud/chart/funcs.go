package chart

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"strings"
	"text/template"

	"sigs.k8s.io/yaml"
)

// parse parses every template into one set, so include finds the helpers.
func (c *Chart) parse() (*template.Template, error) {
	root := template.New(c.Metadata.Name).Option("missingkey=zero")
	root.Funcs(funcs(root))
	for _, name := range sortedKeys(c.Templates) {
		if _, err := root.New(name).Parse(c.Templates[name]); err != nil {
			return nil, fmt.Errorf("chart: %w", err)
		}
	}
	return root, nil
}

func funcs(root *template.Template) template.FuncMap {
	return template.FuncMap{
		"quote": func(vs ...any) string {
			out := make([]string, 0, len(vs))
			for _, v := range vs {
				if v != nil {
					out = append(out, fmt.Sprintf("%q", toString(v)))
				}
			}
			return strings.Join(out, " ")
		},
		"default": func(d any, given ...any) any {
			if len(given) == 0 || empty(given[0]) {
				return d
			}
			return given[0]
		},
		"toYaml": func(v any) string {
			b, err := yaml.Marshal(v)
			if err != nil {
				return ""
			}
			return strings.TrimSuffix(string(b), "\n")
		},
		"indent":  indent,
		"nindent": func(n int, s string) string { return "\n" + indent(n, s) },
		"b64enc":  func(s any) string { return base64.StdEncoding.EncodeToString([]byte(toString(s))) },
		"trim":    func(s any) string { return strings.TrimSpace(toString(s)) },
		"include": func(name string, data any) (string, error) {
			var b strings.Builder
			err := root.ExecuteTemplate(&b, name, data)
			return b.String(), err
		},
	}
}

func indent(n int, s string) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case nil:
		return ""
	case float64:
		if x == float64(int64(x)) {
			return fmt.Sprint(int64(x))
		}
	}
	return fmt.Sprint(v)
}

// empty is sprig's notion: zero values, empty strings and collections.
func empty(v any) bool {
	if v == nil {
		return true
	}
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.String, reflect.Slice, reflect.Map, reflect.Array:
		return r.Len() == 0
	case reflect.Bool:
		return !r.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return r.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return r.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return r.Float() == 0
	case reflect.Pointer, reflect.Interface:
		return r.IsNil()
	}
	return false
}
