package registry

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// crTestResources returns the test definition's resources by version.
func crTestResources(t *testing.T, mutate func(*apiextensionsv1.CustomResourceDefinition)) map[string]*Resource {
	t.Helper()
	rs, err := CustomResources(crdTestCRD(mutate))
	if err != nil {
		t.Fatal(err)
	}
	byVersion := map[string]*Resource{}
	for _, r := range rs {
		byVersion[r.Version] = r
	}
	return byVersion
}

// crTestObject decodes a widget from JSON as the server does.
func crTestObject(t *testing.T, js string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON([]byte(js)); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestCustomResourcesDescriptors(t *testing.T) {
	rs, err := CustomResources(crdTestCRD(nil))
	if err != nil {
		t.Fatal(err)
	}
	var versions []string
	for _, r := range rs {
		versions = append(versions, r.Version)
	}
	if !cmp.Equal(versions, []string{"v1", "v2"}) {
		t.Fatalf("versions %v, want the served v1 and v2", versions)
	}
	for _, r := range rs {
		if r.Group != "example.com" || r.Resource != "widgets" || r.Kind != "Widget" || r.ListKind != "WidgetList" ||
			r.SingularName != "widget" || !cmp.Equal(r.ShortNames, []string{"wd"}) || !cmp.Equal(r.Categories, []string{"all"}) ||
			!r.Namespaced || !r.Custom || !cmp.Equal(r.Subresources, []string{"status", "scale"}) || !r.HasStatus ||
			r.Scale == nil || r.Fields == nil || r.Prune == nil || r.Default == nil || r.Table == nil {
			t.Errorf("%s: %+v", r.Version, r)
		}
		u, ok := r.New().(*unstructured.Unstructured)
		if !ok || u.GetAPIVersion() != "example.com/"+r.Version || u.GetKind() != "Widget" {
			t.Errorf("%s: New %#v", r.Version, r.New())
		}
		l, ok := r.NewList().(*unstructured.UnstructuredList)
		if !ok || l.GetAPIVersion() != "example.com/"+r.Version || l.GetKind() != "WidgetList" {
			t.Errorf("%s: NewList %#v", r.Version, r.NewList())
		}
	}
	if rs[0].Storage != nil {
		t.Errorf("v1 is the storage version but has Storage %+v", rs[0].Storage)
	}
	if s := rs[1].Storage; s == nil || s.Kind != (schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"}) {
		t.Errorf("v2 Storage: %+v", s)
	}

	// Accepted names win over spec.names; no subresources, cluster scope.
	rs, err = CustomResources(crdTestCRD(func(c *apiextensionsv1.CustomResourceDefinition) {
		c.Spec.Scope = apiextensionsv1.ClusterScoped
		c.Spec.Versions[1].Subresources = nil
		c.Status.AcceptedNames = apiextensionsv1.CustomResourceDefinitionNames{Plural: "gadgets", Singular: "gadget", Kind: "Gadget", ListKind: "GadgetList"}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if r := rs[0]; r.Resource != "gadgets" || r.Kind != "Gadget" || r.Namespaced || r.Subresources != nil || r.HasStatus || r.Scale != nil {
		t.Errorf("accepted names, no subresources: %+v", r)
	}
}

func TestCustomResourcesErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*apiextensionsv1.CustomResourceDefinition)
		want   string
	}{
		{"no storage version", func(c *apiextensionsv1.CustomResourceDefinition) { c.Spec.Versions[1].Storage = false }, "no storage version"},
		{"not structural", func(c *apiextensionsv1.CustomResourceDefinition) {
			c.Spec.Versions[2].Schema.OpenAPIV3Schema.Properties["spec"].Properties["replicas"] = apiextensionsv1.JSONSchemaProps{}
		}, "version v2: schema is not structural"},
		{"webhook", func(c *apiextensionsv1.CustomResourceDefinition) {
			c.Spec.Conversion = &apiextensionsv1.CustomResourceConversion{Strategy: apiextensionsv1.WebhookConverter}
		}, "conversion strategy Webhook"},
	}
	for _, tt := range tests {
		rs, err := CustomResources(crdTestCRD(tt.mutate))
		if err == nil || !strings.Contains(err.Error(), tt.want) || rs != nil {
			t.Errorf("%s: %v %v, want error with %q", tt.name, rs, err, tt.want)
		}
	}
}

func TestCustomResourcePrune(t *testing.T) {
	r := crTestResources(t, nil)["v1"]
	tests := []struct {
		name, in   string
		wantPruned []string
		want       string // the object after pruning, as JSON
	}{
		{
			name:       "unknown fields",
			in:         `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","unknown":1,"labels":{"a":"b"}},"spec":{"replicas":2,"foo":"x","color":"red"},"status":{"bar":{}},"top":1}`,
			wantPruned: []string{"metadata.unknown", "spec.foo", "status.bar", "top"},
			want:       `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","labels":{"a":"b"},"creationTimestamp":null},"spec":{"replicas":2,"color":"red"},"status":{}}`,
		},
		{
			name:       "embedded resource metadata",
			in:         `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"template":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","bogus":true},"spec":{"x":1}}}}`,
			wantPruned: []string{"spec.template.metadata.bogus"},
			want:       `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","creationTimestamp":null},"spec":{"template":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"x":1}}}}`,
		},
		{
			name: "known fields only",
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"replicas":1}}`,
			want: `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","creationTimestamp":null},"spec":{"replicas":1}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := crTestObject(t, tt.in)
			pruned, err := r.Prune(u)
			if err != nil {
				t.Fatal(err)
			}
			if !cmp.Equal(pruned, tt.wantPruned) {
				t.Errorf("pruned %q, want %q", pruned, tt.wantPruned)
			}
			if want := crTestObject(t, tt.want); !cmp.Equal(u.Object, want.Object) {
				t.Errorf("object: %s", cmp.Diff(want.Object, u.Object))
			}
		})
	}

	// Malformed metadata in a request body, the object's or an embedded resource's, is an
	// error (upstream's request decoder refuses it), not dropped.
	for name, in := range map[string]string{
		"labels not a map": `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","labels":5}}`,
		"embedded labels":  `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"template":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":"x"}}}}`,
	} {
		if _, err := r.Prune(crTestObject(t, in)); err == nil {
			t.Errorf("%s: malformed metadata pruned without an error", name)
		}
	}

	// x-kubernetes-preserve-unknown-fields at the root keeps unknown fields there, not under
	// the specified spec.
	preserving := crTestResources(t, func(c *apiextensionsv1.CustomResourceDefinition) {
		c.Spec.Versions[1].Schema.OpenAPIV3Schema.XPreserveUnknownFields = ptr.To(true)
	})["v1"]
	u := crTestObject(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"foo":1},"top":2}`)
	if pruned, err := preserving.Prune(u); err != nil || !cmp.Equal(pruned, []string{"spec.foo"}) {
		t.Errorf("preserving root pruned %q", pruned)
	}
	if u.Object["top"] == nil {
		t.Errorf("preserving root dropped top: %v", u.Object)
	}
	// No schema: nothing is pruned but unknown metadata.
	schemaless := crTestResources(t, func(c *apiextensionsv1.CustomResourceDefinition) {
		c.Spec.Versions[1].Schema = nil
		c.Spec.Versions[1].Subresources = nil
		c.Spec.Versions[1].SelectableFields = nil
	})["v1"]
	u = crTestObject(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","x":1},"spec":{"foo":1},"top":2}`)
	if pruned, err := schemaless.Prune(u); err != nil || !cmp.Equal(pruned, []string{"metadata.x"}) {
		t.Errorf("no schema: pruned %q", pruned)
	}
	if u.Object["top"] == nil || u.Object["spec"].(map[string]interface{})["foo"] == nil {
		t.Errorf("no schema: dropped fields: %v", u.Object)
	}
	if errs := schemaless.Validate(u); len(errs) > 0 {
		t.Errorf("no schema: %v", errs)
	}
}

func TestCustomResourceDefault(t *testing.T) {
	r := crTestResources(t, nil)["v1"]
	u := crTestObject(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"replicas":1}}`)
	r.Default(u)
	if c, _, _ := unstructured.NestedString(u.Object, "spec", "color"); c != "blue" {
		t.Errorf("spec.color %q, want the default blue", c)
	}
	unstructured.SetNestedField(u.Object, "red", "spec", "color")
	r.Default(u) // as on a stored object: what is set stays
	if c, _, _ := unstructured.NestedString(u.Object, "spec", "color"); c != "red" {
		t.Errorf("spec.color %q after defaulting again, want red", c)
	}
}

func TestCustomResourceValidate(t *testing.T) {
	r := crTestResources(t, nil)["v1"]
	tests := []struct {
		name, in string
		want     []string
	}{
		{"valid", `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"replicas":2,"size":"small"},"status":{"replicas":1,"selector":"app=w"}}`, nil},
		{"wrong type", `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"replicas":"string"}}`, []string{
			`spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"`,
			`.spec.replicas: Invalid value: 0: .spec.replicas accessor error: string is of the type string, expected int64`,
			`<nil>: Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation`,
		}},
		{"enum", `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"size":"huge"}}`, []string{
			`spec.size: Unsupported value: "huge": supported values: "small", "large"`,
			`<nil>: Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation`,
		}},
		{"cel rule", `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"replicas":11}}`, []string{
			`spec: Invalid value: "object": at most 10 replicas`,
		}},
		{"negative replicas", `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"replicas":-1}}`, []string{
			`.spec.replicas: Invalid value: -1: should be a non-negative integer`,
		}},
		{"status selector type", `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"status":{"selector":1}}`, []string{
			`status.selector: Invalid value: "integer": status.selector in body must be of type string: "integer"`,
			`.status.selector: Invalid value: "": .status.selector accessor error: 1 is of the type int64, expected string`,
			`<nil>: Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation`,
		}},
		{"kind", `{"apiVersion":"example.com/v2","kind":"Gadget","metadata":{"name":"w"}}`, []string{
			`kind: Invalid value: "Gadget": must be Widget`,
			`apiVersion: Invalid value: "example.com/v2": must be example.com/v1`,
		}},
		{"embedded resource", `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"template":{"metadata":{"name":"p"}}}}`, []string{
			`spec.template.apiVersion: Required value: must not be empty`,
			`spec.template.kind: Required value: must not be empty`,
			`<nil>: Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range r.Validate(crTestObject(t, tt.in)) {
				got = append(got, e.Error())
			}
			if !cmp.Equal(got, tt.want) {
				t.Errorf("errors:\n%s", cmp.Diff(tt.want, got))
			}
		})
	}
}

func TestCustomResourceValidateUpdate(t *testing.T) {
	r := crTestResources(t, nil)["v1"]
	errStrings := func(errs field.ErrorList) []string {
		var out []string
		for _, e := range errs {
			out = append(out, e.Error())
		}
		return out
	}
	// Ratcheting: a stored value that breaks the schema may stay as it is.
	old := crTestObject(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"size":"huge","replicas":1}}`)
	obj := crTestObject(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"size":"huge","replicas":2}}`)
	if errs := r.ValidateUpdate(obj, old); len(errs) > 0 {
		t.Errorf("unchanged invalid value: %q", errStrings(errs))
	}
	bad := crTestObject(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"size":"small","replicas":12}}`)
	if got := errStrings(r.ValidateUpdate(bad, old)); !cmp.Equal(got, []string{`spec: Invalid value: "object": at most 10 replicas`}) {
		t.Errorf("update errors %q", got)
	}
	// The status subresource checks the status against the status schema.
	status := crTestObject(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"size":"huge","replicas":1},"status":{"replicas":"x"}}`)
	want := []string{
		// the status schema validates status as its root (as upstream reports it)
		`status.replicas: Invalid value: "string": replicas in body must be of type integer: "string"`,
		`.status.replicas: Invalid value: 0: .status.replicas accessor error: x is of the type string, expected int64`,
		`<nil>: Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation`,
	}
	if got := errStrings(r.ValidateStatusUpdate(status, old)); !cmp.Equal(got, want) {
		t.Errorf("status update errors:\n%s", cmp.Diff(want, got))
	}
}

func TestCustomResourcePrepare(t *testing.T) {
	r := crTestResources(t, nil)["v1"]
	obj := crTestObject(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"replicas":1},"status":{"replicas":5}}`)
	r.PrepareForCreate(obj)
	if _, ok := obj.Object["status"]; ok {
		t.Errorf("after create: %v", obj.Object)
	}
	// Updates of the main resource (status kept, generation) are the API server's, for every
	// resource with a status subresource: TestCustomResourceDefinition checks them.
	old := crTestObject(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","generation":3,"labels":{"a":"1"},"resourceVersion":"7"},"spec":{"replicas":1},"status":{"replicas":1}}`)
	// A status update changes the status only.
	st := crTestObject(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","generation":3,"labels":{"a":"2"},"resourceVersion":"7"},"spec":{"replicas":5},"status":{"replicas":9}}`)
	r.PrepareForSubresourceUpdate("status", st, old)
	want := crTestObject(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","generation":3,"labels":{"a":"1"},"resourceVersion":"7"},"spec":{"replicas":1},"status":{"replicas":9}}`)
	if !cmp.Equal(st.Object, want.Object) {
		t.Errorf("after status update: %s", cmp.Diff(want.Object, st.Object))
	}
}

func TestCustomResourceScale(t *testing.T) {
	r := crTestResources(t, nil)["v1"]
	u := crTestObject(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"replicas":3},"status":{"replicas":2,"selector":"app=w"}}`)
	if spec, status, sel := r.Scale.Get(u); spec != 3 || status != 2 || sel != "app=w" {
		t.Errorf("Get: %d %d %q", spec, status, sel)
	}
	r.Scale.Set(u, 7)
	if n, _, _ := unstructured.NestedInt64(u.Object, "spec", "replicas"); n != 7 {
		t.Errorf("Set: spec.replicas %d", n)
	}
	empty := crTestObject(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"}}`)
	r.Scale.Set(empty, 1)
	if spec, status, sel := r.Scale.Get(empty); spec != 1 || status != 0 || sel != "" {
		t.Errorf("Get after Set on an empty object: %d %d %q", spec, status, sel)
	}
}

func TestCustomResourceTable(t *testing.T) {
	r := crTestResources(t, nil)["v1"]
	var cols []string
	for _, c := range r.Table.Columns {
		cols = append(cols, c.Name+"/"+c.Type+"/"+c.Description)
	}
	want := []string{
		"Name/string/" + nameColumn.Description,
		"Replicas/integer/Custom resource definition column (in JSONPath format): .spec.replicas",
		"Color/string/the color",
		"Age/date/Custom resource definition column (in JSONPath format): .metadata.creationTimestamp",
	}
	if !cmp.Equal(cols, want) {
		t.Errorf("columns:\n%s", cmp.Diff(want, cols))
	}
	u := crTestObject(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"replicas":3,"color":"red"}}`)
	u.SetCreationTimestamp(metav1.NewTime(time.Now().Add(-2 * time.Hour)))
	row, err := r.Table.Row(u)
	if err != nil || !cmp.Equal(row, []interface{}{"w", int64(3), "red", "120m"}) {
		t.Errorf("row %#v %v", row, err)
	}
	missing := crTestObject(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"v"}}`)
	if row, err := r.Table.Row(missing); err != nil || !cmp.Equal(row, []interface{}{"v", nil, nil, nil}) {
		t.Errorf("row of an object without the fields %#v %v", row, err)
	}

	// Without additionalPrinterColumns: NAME and AGE.
	plain := crTestResources(t, func(c *apiextensionsv1.CustomResourceDefinition) {
		c.Spec.Versions[1].AdditionalPrinterColumns = nil
	})["v1"]
	if n := len(plain.Table.Columns); n != 2 || plain.Table.Columns[1].Name != "Age" || plain.Table.Columns[1].Type != "date" {
		t.Errorf("default columns: %+v", plain.Table.Columns)
	}
	if row, err := plain.Table.Row(u); err != nil || !cmp.Equal(row, []interface{}{"w", "120m"}) {
		t.Errorf("default row %#v %v", row, err)
	}
}

func TestCustomResourceFields(t *testing.T) {
	r := crTestResources(t, func(c *apiextensionsv1.CustomResourceDefinition) {
		c.Spec.Versions[1].SelectableFields = append(c.Spec.Versions[1].SelectableFields, apiextensionsv1.SelectableField{JSONPath: ".spec.replicas"})
	})["v1"]
	u := crTestObject(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"color":"red","replicas":4}}`)
	if got := r.Fields(u); !cmp.Equal(got, fields.Set{"spec.color": "red", "spec.replicas": "4"}) {
		t.Errorf("fields %v", got)
	}
	none := crTestObject(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"}}`)
	if got := r.Fields(none); !cmp.Equal(got, fields.Set{"spec.color": "", "spec.replicas": ""}) {
		t.Errorf("fields of an object without them %v", got)
	}
}

func TestCustomResourceStorage(t *testing.T) {
	v2 := crTestResources(t, nil)["v2"]
	obj := crTestObject(t, `{"apiVersion":"example.com/v2","kind":"Widget","metadata":{"name":"w","namespace":"ns"},"spec":{"replicas":3,"color":"red"}}`)
	stored, err := v2.Storage.ToStorage(obj)
	if err != nil {
		t.Fatal(err)
	}
	su := stored.(*unstructured.Unstructured)
	if su.GetAPIVersion() != "example.com/v1" || su.GetKind() != "Widget" || su.GetName() != "w" || su.GetNamespace() != "ns" {
		t.Errorf("stored %v", su.Object)
	}
	if n, _, _ := unstructured.NestedInt64(su.Object, "spec", "replicas"); n != 3 {
		t.Errorf("stored spec.replicas %d", n)
	}
	if obj.GetAPIVersion() != "example.com/v2" {
		t.Errorf("ToStorage changed its argument: %s", obj.GetAPIVersion())
	}
	// Read back: v2 again, defaulted.
	unstructured.RemoveNestedField(su.Object, "spec", "color")
	back, err := v2.Storage.FromStorage(su)
	if err != nil {
		t.Fatal(err)
	}
	bu := back.(*unstructured.Unstructured)
	if c, _, _ := unstructured.NestedString(bu.Object, "spec", "color"); bu.GetAPIVersion() != "example.com/v2" || c != "blue" {
		t.Errorf("read back %v", bu.Object)
	}
	if su.GetAPIVersion() != "example.com/v1" || su.Object["spec"].(map[string]interface{})["color"] != nil {
		t.Errorf("FromStorage changed its argument: %v", su.Object)
	}
	if n, ok := v2.Storage.New().(*unstructured.Unstructured); !ok || n.GetAPIVersion() != "example.com/v1" || n.GetKind() != "Widget" {
		t.Errorf("Storage.New %#v", v2.Storage.New())
	}
}

// With a conversion webhook every served version converts through it: to the storage version
// on the way in, from the version an object was stored in on the way out (the storage version
// too, for objects stored before it changed).
func TestCustomResourcesConverting(t *testing.T) {
	crd := crdTestCRD(func(c *apiextensionsv1.CustomResourceDefinition) {
		c.Spec.Conversion = &apiextensionsv1.CustomResourceConversion{Strategy: apiextensionsv1.WebhookConverter,
			Webhook: &apiextensionsv1.WebhookConversion{ClientConfig: &apiextensionsv1.WebhookClientConfig{URL: ptr.To("https://conv.example.com/")},
				ConversionReviewVersions: []string{"v1"}}}
	})
	var calls []string
	conv := func(u *unstructured.Unstructured, to schema.GroupVersion) (*unstructured.Unstructured, error) {
		calls = append(calls, u.GetAPIVersion()+"->"+to.String())
		out := u.DeepCopy()
		out.SetAPIVersion(to.String())
		// v2 calls the color "colour".
		if c, ok, _ := unstructured.NestedString(out.Object, "spec", "color"); ok && to.Version == "v2" {
			unstructured.RemoveNestedField(out.Object, "spec", "color")
			_ = unstructured.SetNestedField(out.Object, c, "spec", "colour")
		}
		if c, ok, _ := unstructured.NestedString(out.Object, "spec", "colour"); ok && to.Version == "v1" {
			unstructured.RemoveNestedField(out.Object, "spec", "colour")
			_ = unstructured.SetNestedField(out.Object, c, "spec", "color")
		}
		return out, nil
	}
	rs, err := CustomResourcesConverting(crd, conv)
	if err != nil {
		t.Fatal(err)
	}
	var v1, v2 *Resource
	for _, r := range rs {
		switch r.Version {
		case "v1":
			v1 = r
		case "v2":
			v2 = r
		}
	}
	if v1 == nil || v2 == nil || v1.Storage == nil || v2.Storage == nil {
		t.Fatalf("every served version converts: %+v %+v", v1, v2)
	}
	in := &unstructured.Unstructured{Object: map[string]interface{}{"apiVersion": "example.com/v2", "kind": "Widget",
		"metadata": map[string]interface{}{"name": "w"}, "spec": map[string]interface{}{"colour": "red"}}}
	stored, err := v2.Storage.ToStorage(in)
	if err != nil {
		t.Fatal(err)
	}
	su := stored.(*unstructured.Unstructured)
	if su.GetAPIVersion() != "example.com/v1" || su.Object["spec"].(map[string]interface{})["color"] != "red" {
		t.Errorf("stored: %v", su.Object)
	}
	if _, ok := in.Object["spec"].(map[string]interface{})["colour"]; !ok {
		t.Error("ToStorage changed its argument")
	}
	out, err := v2.Storage.FromStorage(stored)
	if err != nil {
		t.Fatal(err)
	}
	if ou := out.(*unstructured.Unstructured); ou.GetAPIVersion() != "example.com/v2" || ou.Object["spec"].(map[string]interface{})["colour"] != "red" {
		t.Errorf("read through v2: %v", ou.Object)
	}
	// An object stored as v2 (before v1 became the storage version) read through v1.
	calls = nil
	out, err = v1.Storage.FromStorage(in)
	if err != nil || out.(*unstructured.Unstructured).GetAPIVersion() != "example.com/v1" || len(calls) != 1 {
		t.Errorf("an object stored in another version read through the storage version: %v %v (calls %v)", out, err, calls)
	}
}
