package discovery

import (
	"reflect"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// openapiSchemas derives OpenAPI schemas from the k8s.io/api Go types by reflection, the way
// kube-openapi's generator does from the same types: json tags name the properties,
// SwaggerDoc() gives the descriptions, patchStrategy/patchMergeKey tags become the
// x-kubernetes-patch-* extensions kubectl's strategic merge patch reads, and types with
// OpenAPISchemaType() (Time, Quantity, IntOrString, ...) are the primitives they say.
// Definition names follow Kubernetes: k8s.io/api/core/v1.Pod is "io.k8s.api.core.v1.Pod".
type openapiSchemas struct {
	v3   bool // OpenAPI v3: refs under #/components/schemas and described refs wrapped in allOf
	defs map[string]openapiObj
}

// openapiObj is a JSON object of an OpenAPI document.
type openapiObj = map[string]interface{}

func openapiNewSchemas(v3 bool) *openapiSchemas {
	return &openapiSchemas{v3: v3, defs: map[string]openapiObj{}}
}

// ref returns a reference to the definition of struct type t, defining it (and what it uses)
// on first use.
func (g *openapiSchemas) ref(t reflect.Type) openapiObj {
	name := DefinitionName(t)
	if _, ok := g.defs[name]; !ok {
		g.defs[name] = openapiObj{} // placeholder: breaks recursion
		g.defs[name] = g.structSchema(t)
	}
	prefix := "#/definitions/"
	if g.v3 {
		prefix = "#/components/schemas/"
	}
	return openapiObj{"$ref": prefix + name}
}

// markKind tags the definition of t as the schema of gvk, as kubectl looks kinds up by it.
func (g *openapiSchemas) markKind(t reflect.Type, gvk schema.GroupVersionKind) {
	g.ref(t)
	def := g.defs[DefinitionName(t)]
	list, _ := def["x-kubernetes-group-version-kind"].([]interface{})
	for _, e := range list {
		if m := e.(map[string]string); m["kind"] == gvk.Kind && m["group"] == gvk.Group && m["version"] == gvk.Version {
			return
		}
	}
	def["x-kubernetes-group-version-kind"] = append(list, openapiGVK(gvk))
}

func openapiGVK(gvk schema.GroupVersionKind) map[string]string {
	return map[string]string{"group": gvk.Group, "version": gvk.Version, "kind": gvk.Kind}
}

// DefinitionName turns a Go type into its Kubernetes OpenAPI definition name
// (k8s.io/api/core/v1.Pod is io.k8s.api.core.v1.Pod), as kube-openapi names them.
func DefinitionName(t reflect.Type) string {
	host, rest, _ := strings.Cut(t.PkgPath(), "/")
	parts := strings.Split(host, ".")
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	name := strings.Join(parts, ".")
	if rest != "" {
		name += "." + strings.ReplaceAll(rest, "/", ".")
	}
	return name + "." + t.Name()
}

type openapiTyper interface {
	OpenAPISchemaType() []string
	OpenAPISchemaFormat() string
}

type openapiDocer interface{ SwaggerDoc() map[string]string }

// schemaOf returns the inline schema of a field of type t.
func (g *openapiSchemas) schemaOf(t reflect.Type) openapiObj {
	for t.Kind() == reflect.Ptr {
		t = t.Elem()
	}
	if p, ok := reflect.New(t).Interface().(openapiTyper); ok {
		types := p.OpenAPISchemaType()
		if len(types) == 0 {
			// Any JSON value (apiextensions' JSON, JSONSchemaPropsOrBool, ...): kube-openapi
			// gives such a type no "type".
			return openapiObj{}
		}
		s := openapiObj{"type": types[0]}
		if f := p.OpenAPISchemaFormat(); f != "" {
			s["format"] = f
		}
		return s
	}
	switch t.Kind() {
	case reflect.Bool:
		return openapiObj{"type": "boolean"}
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16:
		return openapiObj{"type": "integer", "format": "int32"}
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return openapiObj{"type": "integer", "format": "int64"}
	case reflect.Float32, reflect.Float64:
		return openapiObj{"type": "number", "format": "double"}
	case reflect.String:
		return openapiObj{"type": "string"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return openapiObj{"type": "string", "format": "byte"}
		}
		return openapiObj{"type": "array", "items": g.schemaOf(t.Elem())}
	case reflect.Map:
		return openapiObj{"type": "object", "additionalProperties": g.schemaOf(t.Elem())}
	case reflect.Struct:
		return g.ref(t)
	}
	return g.anything()
}

// anything is the schema of an interface{} field: any JSON value.
func (g *openapiSchemas) anything() openapiObj {
	if g.v3 {
		return openapiObj{"type": "object", "x-kubernetes-preserve-unknown-fields": true}
	}
	return openapiObj{"type": "object"}
}

// structSchema is the object schema of struct type t.
func (g *openapiSchemas) structSchema(t reflect.Type) openapiObj {
	s := openapiObj{"type": "object"}
	docs := openapiFieldDocs(t)
	if d := docs[""]; d != "" {
		s["description"] = d
	}
	props := openapiObj{}
	g.addFields(props, t, docs)
	if len(props) > 0 {
		s["properties"] = props
	}
	return s
}

// addFields adds the JSON properties of t's fields to props, flattening inlined structs.
func (g *openapiSchemas) addFields(props openapiObj, t reflect.Type, docs map[string]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" || strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Ptr {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				g.addFields(props, ft, openapiFieldDocs(ft))
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.fieldSchema(f, docs[name])
	}
}

// fieldSchema is the schema of one struct field with its description and patch extensions.
func (g *openapiSchemas) fieldSchema(f reflect.StructField, desc string) openapiObj {
	s := g.schemaOf(f.Type)
	if _, isRef := s["$ref"]; isRef && g.v3 && desc != "" {
		s = openapiObj{"allOf": []interface{}{s}}
	}
	if desc != "" {
		s["description"] = desc
	}
	if v := f.Tag.Get("patchStrategy"); v != "" {
		s["x-kubernetes-patch-strategy"] = v
	}
	if v := f.Tag.Get("patchMergeKey"); v != "" {
		s["x-kubernetes-patch-merge-key"] = v
	}
	return s
}

// openapiDocs returns the field descriptions k8s.io types carry in SwaggerDoc().
func openapiFieldDocs(t reflect.Type) map[string]string {
	if d, ok := reflect.New(t).Elem().Interface().(openapiDocer); ok {
		return d.SwaggerDoc()
	}
	return nil
}
