package app

import (
	"fmt"
	"sort"
	"strings"
	"unicode"

	"k8s.io/apimachinery/pkg/runtime"
)

var runtimeConverter = runtime.DefaultUnstructuredConverter

// value writes an arbitrary JSON value under key: scalars on the line, maps as nested keys,
// lists of scalars comma-joined and lists of maps as numbered entries.
func (d *descWriter) value(level int, key string, v interface{}) {
	switch x := v.(type) {
	case map[string]interface{}:
		if len(x) == 0 {
			d.line(level, key, "<none>")
			return
		}
		d.header(level, key)
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			d.field(level+1, k, x[k])
		}
	case []interface{}:
		if len(x) == 0 {
			d.line(level, key, "<none>")
			return
		}
		if scalars(x) {
			parts := make([]string, len(x))
			for i, it := range x {
				parts[i] = fmt.Sprint(it)
			}
			d.line(level, key, strings.Join(parts, ", "))
			return
		}
		d.header(level, key)
		for i, it := range x {
			d.value(level+1, fmt.Sprintf("[%d]", i), it)
		}
	case nil:
		d.line(level, key, "<none>")
	default:
		d.line(level, key, x)
	}
}

// field writes the value of the JSON field name: a map whose keys are data (labels,
// annotations, selectors, a ConfigMap's data, resource quantities) as key=value lines with
// the keys as written, anything else through value under a title-cased heading.
func (d *descWriter) field(level int, name string, v interface{}) {
	if m, ok := v.(map[string]interface{}); ok && freeFormMap(name) {
		kv := make(map[string]string, len(m))
		for k, x := range m {
			kv[k] = fmt.Sprint(x)
		}
		d.multi(level, titleCase(name), keyValues(kv, "="))
		return
	}
	d.value(level, titleCase(name), v)
}

// freeFormMap reports whether the Kubernetes field name is a map whose keys are the user's,
// not field names.
func freeFormMap(name string) bool {
	switch name {
	case "labels", "annotations", "nodeSelector", "matchLabels", "selector", "data", "binaryData",
		"stringData", "limits", "requests", "capacity", "allocatable", "hard", "used", "parameters":
		return true
	}
	return false
}

func scalars(list []interface{}) bool {
	for _, it := range list {
		switch it.(type) {
		case map[string]interface{}, []interface{}:
			return false
		}
	}
	return true
}

// titleCase turns a JSON field name into a heading: "restartPolicy" → "Restart Policy".
func titleCase(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i == 0 {
			b.WriteRune(unicode.ToUpper(r))
			continue
		}
		if unicode.IsUpper(r) && i > 0 && !unicode.IsUpper(rune(s[i-1])) {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}
