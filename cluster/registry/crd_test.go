package registry

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// crdTestSchema is the schema of the test definition's versions: a spec with replicas, a
// defaulted color (selectable), an enum size, an embedded resource and a CEL rule; a status
// with replicas and a selector.
func crdTestSchema() *apiextensionsv1.CustomResourceValidation {
	return &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
		Type: "object",
		Properties: map[string]apiextensionsv1.JSONSchemaProps{
			"spec": {
				Type: "object",
				Properties: map[string]apiextensionsv1.JSONSchemaProps{
					"replicas": {Type: "integer"},
					"color":    {Type: "string", Default: &apiextensionsv1.JSON{Raw: []byte(`"blue"`)}},
					"size":     {Type: "string", Enum: []apiextensionsv1.JSON{{Raw: []byte(`"small"`)}, {Raw: []byte(`"large"`)}}},
					"template": {Type: "object", XEmbeddedResource: true, XPreserveUnknownFields: ptr.To(true)},
				},
				XValidations: apiextensionsv1.ValidationRules{{Rule: "!has(self.replicas) || self.replicas <= 10", Message: "at most 10 replicas"}},
			},
			"status": {
				Type: "object",
				Properties: map[string]apiextensionsv1.JSONSchemaProps{
					"replicas": {Type: "integer"},
					"selector": {Type: "string"},
				},
			},
		},
	}}
}

// crdTestCRD is a valid definition (defaults applied): widgets.example.com, namespaced, with
// v1alpha1 (not served), v1 (served, storage) and v2 (served); v1 and v2 have the status and
// scale subresources, printer columns and a selectable field.
func crdTestCRD(mutate func(*apiextensionsv1.CustomResourceDefinition)) *apiextensionsv1.CustomResourceDefinition {
	version := func(name string, served, storage bool) apiextensionsv1.CustomResourceDefinitionVersion {
		return apiextensionsv1.CustomResourceDefinitionVersion{
			Name: name, Served: served, Storage: storage, Schema: crdTestSchema(),
			Subresources: &apiextensionsv1.CustomResourceSubresources{
				Status: &apiextensionsv1.CustomResourceSubresourceStatus{},
				Scale: &apiextensionsv1.CustomResourceSubresourceScale{
					SpecReplicasPath: ".spec.replicas", StatusReplicasPath: ".status.replicas",
					LabelSelectorPath: ptr.To(".status.selector"),
				},
			},
			AdditionalPrinterColumns: []apiextensionsv1.CustomResourceColumnDefinition{
				{Name: "Replicas", Type: "integer", JSONPath: ".spec.replicas"},
				{Name: "Color", Type: "string", JSONPath: ".spec.color", Description: "the color"},
				{Name: "Age", Type: "date", JSONPath: ".metadata.creationTimestamp"},
			},
			SelectableFields: []apiextensionsv1.SelectableField{{JSONPath: ".spec.color"}},
		}
	}
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets.example.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "example.com",
			Names: apiextensionsv1.CustomResourceDefinitionNames{
				Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList",
				ShortNames: []string{"wd"}, Categories: []string{"all"},
			},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{
				version("v1alpha1", false, false), version("v1", true, true), version("v2", true, false),
			},
		},
	}
	if mutate != nil {
		mutate(crd)
	}
	apiextensionsv1.SetObjectDefaults_CustomResourceDefinition(crd)
	return crd
}

func TestCRDRegistered(t *testing.T) {
	r, ok := lookup(apiextensionsv1.SchemeGroupVersion.WithResource("customresourcedefinitions"))
	if !ok {
		t.Fatal("customresourcedefinitions not served")
	}
	if r.Kind != "CustomResourceDefinition" || r.SingularName != "customresourcedefinition" || r.Namespaced ||
		!cmp.Equal(r.ShortNames, []string{"crd", "crds"}) || !cmp.Equal(r.Categories, []string{"api-extensions"}) ||
		!cmp.Equal(r.Subresources, []string{"status"}) || !r.HasStatus || r.Custom || r.Table == nil {
		t.Errorf("descriptor: %+v", r)
	}
	if _, ok := r.New().(*apiextensionsv1.CustomResourceDefinition); !ok {
		t.Errorf("New: %T", r.New())
	}
	if _, ok := r.NewList().(*apiextensionsv1.CustomResourceDefinitionList); !ok {
		t.Errorf("NewList: %T", r.NewList())
	}
}

func TestCRDDefault(t *testing.T) {
	r := crdResource()
	crd := &apiextensionsv1.CustomResourceDefinition{Spec: apiextensionsv1.CustomResourceDefinitionSpec{
		Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "widgets", Kind: "Widget"},
	}}
	r.Default(crd)
	if c := crd.Spec.Conversion; c == nil || c.Strategy != apiextensionsv1.NoneConverter {
		t.Errorf("conversion: %+v, want strategy None", c)
	}
	if crd.Spec.Names.Singular != "widget" || crd.Spec.Names.ListKind != "WidgetList" {
		t.Errorf("names: %+v", crd.Spec.Names)
	}
}

func TestCRDValidate(t *testing.T) {
	errStrings := func(errs field.ErrorList) []string {
		var out []string
		for _, e := range errs {
			out = append(out, e.Error())
		}
		return out
	}
	tests := []struct {
		name   string
		mutate func(*apiextensionsv1.CustomResourceDefinition)
		want   []string // each must be one of the errors; nil: no error at all
	}{
		{"valid", nil, nil},
		{"name not plural.group", func(c *apiextensionsv1.CustomResourceDefinition) { c.Name = "widget.example.com" },
			[]string{`metadata.name: Invalid value: "widget.example.com": must be spec.names.plural+"."+spec.group`}},
		{"no storage version", func(c *apiextensionsv1.CustomResourceDefinition) { c.Spec.Versions[1].Storage = false },
			[]string{`spec.versions: Invalid value: []apiextensions.CustomResourceDefinitionVersion`}},
		{"webhook conversion", func(c *apiextensionsv1.CustomResourceDefinition) {
			c.Spec.Conversion = &apiextensionsv1.CustomResourceConversion{
				Strategy: apiextensionsv1.WebhookConverter,
				Webhook: &apiextensionsv1.WebhookConversion{
					ClientConfig:             &apiextensionsv1.WebhookClientConfig{URL: ptr.To("https://conv.example.com/convert")},
					ConversionReviewVersions: []string{"v1"},
				},
			}
		}, nil},
		{"webhook conversion without a webhook", func(c *apiextensionsv1.CustomResourceDefinition) {
			c.Spec.Conversion = &apiextensionsv1.CustomResourceConversion{Strategy: apiextensionsv1.WebhookConverter}
		}, []string{`spec.conversion.webhookClientConfig: Required value: required when strategy is set to Webhook`}},
		{"unstructural schema", func(c *apiextensionsv1.CustomResourceDefinition) {
			c.Spec.Versions[1].Schema.OpenAPIV3Schema.Properties["spec"].Properties["replicas"] = apiextensionsv1.JSONSchemaProps{}
		}, []string{`spec.versions[1].schema.openAPIV3Schema.properties[spec].properties[replicas].type: Required value: must not be empty for specified object fields`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := errStrings(crdResource().Validate(crdTestCRD(tt.mutate)))
			if tt.want == nil && len(got) > 0 {
				t.Fatalf("errors: %q", got)
			}
			for _, w := range tt.want {
				found := false
				for _, g := range got {
					found = found || strings.HasPrefix(g, w)
				}
				if !found {
					t.Errorf("missing %q in %q", w, got)
				}
			}
		})
	}
}

// TestCRDValidateNoDuplicateMetaErrors: the metadata errors the server reports itself are not
// repeated.
func TestCRDValidateNoDuplicateMetaErrors(t *testing.T) {
	crd := crdTestCRD(func(c *apiextensionsv1.CustomResourceDefinition) { c.Labels = map[string]string{"a b": "x"} })
	for _, e := range crdResource().Validate(crd) {
		if e.Field == "metadata.labels" {
			t.Errorf("label error repeated: %v", e)
		}
	}
}

func TestCRDValidateUpdate(t *testing.T) {
	r := crdResource()
	old := crdTestCRD(nil)
	r.PrepareForCreate(old)
	old.ResourceVersion = "1"

	same := old.DeepCopy()
	if errs := r.ValidateUpdate(same, old); len(errs) > 0 {
		t.Errorf("unchanged update: %v", errs)
	}
	// A stored version cannot be removed from spec.versions.
	dropped := old.DeepCopy()
	dropped.Spec.Versions = dropped.Spec.Versions[:1]
	dropped.Spec.Versions[0].Storage, dropped.Spec.Versions[0].Served = true, true
	errs := r.ValidateUpdate(dropped, old)
	found := false
	for _, e := range errs {
		found = found || (e.Field == "status.storedVersions[0]" && strings.Contains(e.Detail, "must appear in spec.versions"))
	}
	if !found {
		t.Errorf("removing the stored version: %v", errs)
	}
	// Status updates check the accepted names.
	status := old.DeepCopy()
	status.Status.AcceptedNames = apiextensionsv1.CustomResourceDefinitionNames{Plural: "Widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList"}
	if errs := r.ValidateStatusUpdate(status, old); len(errs) != 1 || errs[0].Field != "status.acceptedNames.plural" {
		t.Errorf("status update with a bad accepted plural: %v", errs)
	}
	if errs := r.ValidateStatusUpdate(old.DeepCopy(), old); len(errs) > 0 {
		t.Errorf("unchanged status update: %v", errs)
	}
}

func TestCRDPrepare(t *testing.T) {
	r := crdResource()
	crd := crdTestCRD(nil)
	crd.Status = apiextensionsv1.CustomResourceDefinitionStatus{
		StoredVersions: []string{"v9"},
		Conditions:     []apiextensionsv1.CustomResourceDefinitionCondition{{Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionTrue}},
	}
	r.PrepareForCreate(crd)
	if !cmp.Equal(crd.Status, apiextensionsv1.CustomResourceDefinitionStatus{StoredVersions: []string{"v1"}}) {
		t.Errorf("status after create: %+v", crd.Status)
	}
	// Moving storage to v2 adds it to storedVersions; v1 stays.
	upd := crd.DeepCopy()
	upd.Spec.Versions[1].Storage, upd.Spec.Versions[2].Storage = false, true
	r.PrepareForUpdate(upd, crd)
	if !cmp.Equal(upd.Status.StoredVersions, []string{"v1", "v2"}) {
		t.Errorf("storedVersions after update: %v", upd.Status.StoredVersions)
	}
	again := upd.DeepCopy()
	r.PrepareForUpdate(again, upd)
	if !cmp.Equal(again.Status.StoredVersions, []string{"v1", "v2"}) {
		t.Errorf("storedVersions after a second update: %v", again.Status.StoredVersions)
	}
}

func TestCRDTable(t *testing.T) {
	tbl := crdResource().Table
	var names []string
	for _, c := range tbl.Columns {
		names = append(names, c.Name+"/"+c.Type)
	}
	if !cmp.Equal(names, []string{"Name/string", "Created At/date"}) {
		t.Errorf("columns: %v", names)
	}
	crd := crdTestCRD(nil)
	crd.CreationTimestamp = metav1.NewTime(time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("x", 3600)))
	row, err := tbl.Row(crd)
	if err != nil || !cmp.Equal(row, []interface{}{"widgets.example.com", "2025-03-04T04:06:07Z"}) {
		t.Errorf("row: %v %v", row, err)
	}
}
