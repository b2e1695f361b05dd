package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metatable "k8s.io/apimachinery/pkg/api/meta/table"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/jsonpath"
)

// customDefaultColumns are the columns of a version without additionalPrinterColumns (upstream's
// serveDefaultColumnsIfEmpty): AGE.
var customDefaultColumns = []apiextensionsv1.CustomResourceColumnDefinition{
	{Name: "Age", Type: "date", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"], JSONPath: ".metadata.creationTimestamp"},
}

// customTable prints custom resources as upstream's tableconvertor does: NAME, then the version's
// additionalPrinterColumns (or AGE), each a JSONPath into the object. A column whose path does
// not parse ends the columns there, as upstream falls back to the columns parsed before it.
func customTable(cols []apiextensionsv1.CustomResourceColumnDefinition) *Table {
	if len(cols) == 0 {
		cols = customDefaultColumns
	}
	t := &Table{Columns: []metav1.TableColumnDefinition{nameColumn}}
	var paths []string // the parsed templates; each row parses its own JSONPath (they keep state)
	for _, col := range cols {
		tmpl := fmt.Sprintf("{%s}", col.JSONPath)
		if err := jsonpath.New(col.Name).Parse(tmpl); err != nil {
			break
		}
		desc := fmt.Sprintf("Custom resource definition column (in JSONPath format): %s", col.JSONPath)
		if len(col.Description) > 0 {
			desc = col.Description
		}
		paths = append(paths, tmpl)
		t.Columns = append(t.Columns, metav1.TableColumnDefinition{
			Name: col.Name, Type: col.Type, Format: col.Format, Description: desc, Priority: col.Priority,
		})
	}
	t.Row = func(obj runtime.Object) ([]interface{}, error) {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			return nil, fmt.Errorf("custom resource table: unexpected object %T", obj)
		}
		cells := make([]interface{}, 1, 1+len(paths))
		cells[0] = u.GetName()
		var buf bytes.Buffer
		for i, tmpl := range paths {
			column := jsonpath.New(t.Columns[i+1].Name)
			_ = column.Parse(tmpl) // parsed above
			column.AllowMissingKeys(true)
			results, err := column.FindResults(u.UnstructuredContent())
			if err != nil || len(results) == 0 || len(results[0]) == 0 {
				cells = append(cells, nil)
				continue
			}
			// as we only support simple JSON path, we can assume to have only one result (or none, filtered out above)
			value := results[0][0].Interface()
			if typ := t.Columns[i+1].Type; typ == "string" {
				if err := column.PrintResults(&buf, []reflect.Value{reflect.ValueOf(value)}); err == nil {
					cells = append(cells, buf.String())
					buf.Reset()
				} else {
					cells = append(cells, nil)
				}
			} else {
				cells = append(cells, customCellForJSONValue(typ, value))
			}
		}
		return cells, nil
	}
	return t
}

// customCellForJSONValue is upstream's cellForJSONValue.
func customCellForJSONValue(headerType string, value interface{}) interface{} {
	if value == nil {
		return nil
	}
	switch headerType {
	case "integer":
		switch typed := value.(type) {
		case int64:
			return typed
		case float64:
			return int64(typed)
		case json.Number:
			if i64, err := typed.Int64(); err == nil {
				return i64
			}
		}
	case "number":
		switch typed := value.(type) {
		case int64:
			return float64(typed)
		case float64:
			return typed
		case json.Number:
			if f, err := typed.Float64(); err == nil {
				return f
			}
		}
	case "boolean":
		if b, ok := value.(bool); ok {
			return b
		}
	case "string":
		if s, ok := value.(string); ok {
			return s
		}
	case "date":
		if typed, ok := value.(string); ok {
			var timestamp metav1.Time
			if err := timestamp.UnmarshalQueryParameter(typed); err != nil {
				return "<invalid>"
			}
			return metatable.ConvertToHumanReadableDateType(timestamp)
		}
	}
	return nil
}

// customFields returns the selectable fields of a version (upstream's selectableFields, with
// CustomResourceFieldSelectors, beta and on in 1.32): each keyed by its JSONPath without the
// leading dot, its value formatted with fmt.Sprint, "" when missing. A field whose path does not
// parse or finds several values is left out (upstream fails the request).
func customFields(sfs []apiextensionsv1.SelectableField) func(obj runtime.Object) fields.Set {
	return func(obj runtime.Object) fields.Set {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			return nil
		}
		set := fields.Set{}
		for _, sf := range sfs {
			name := strings.TrimPrefix(sf.JSONPath, ".")
			parser := jsonpath.New("selectableField")
			parser.AllowMissingKeys(true)
			if err := parser.Parse("{" + sf.JSONPath + "}"); err != nil {
				continue
			}
			results, err := parser.FindResults(u.UnstructuredContent())
			if err != nil {
				continue
			}
			var value any
			if len(results) > 0 && len(results[0]) > 0 {
				if len(results) > 1 || len(results[0]) > 1 {
					continue
				}
				value = results[0][0].Interface()
			}
			if value != nil {
				set[name] = fmt.Sprint(value)
			} else {
				set[name] = ""
			}
		}
		return set
	}
}
