package discovery

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	openapiv2 "github.com/google/gnostic-models/openapiv2"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/openapi3"
	"k8s.io/client-go/rest"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/util/proto"
	"k8s.io/kube-openapi/pkg/util/proto/validation"
	"sigs.k8s.io/yaml"
)

func openapiTestClient(t *testing.T) *discovery.DiscoveryClient {
	return discovery.NewDiscoveryClientForConfigOrDie(&rest.Config{Host: testServer(t).URL})
}

// openapiV3PatchSupport is kubectl 1.32's check (cli-runtime supportsQueryParamV3): the first
// PATCH operation tagged with gvk must take the query parameter.
func openapiV3PatchSupport(doc *spec3.OpenAPI, gvk schema.GroupVersionKind, param string) (found, supported, smp bool) {
	for _, path := range doc.Paths.Paths {
		op := path.Patch
		if op == nil {
			continue
		}
		var got map[string]string
		if err := op.Extensions.GetObject("x-kubernetes-group-version-kind", &got); err != nil ||
			got["group"] != gvk.Group || got["version"] != gvk.Version || got["kind"] != gvk.Kind {
			continue
		}
		for _, p := range op.Parameters {
			supported = supported || (p.Name == param && p.In == "query")
		}
		_, smp = op.RequestBody.Content["application/strategic-merge-patch+json"]
		return true, supported, smp
	}
	return false, false, false
}

func TestOpenAPIV3AdvertisesFieldValidation(t *testing.T) {
	root := openapi3.NewRoot(openapiTestClient(t).OpenAPIV3())
	gvs, err := root.GroupVersions()
	if err != nil {
		t.Fatal(err)
	}
	want := []schema.GroupVersion{{Group: "batch", Version: "v1"}, {Group: "coordination.k8s.io", Version: "v1"}, {Version: "v1"}}
	if diff := cmp.Diff(want, gvs); diff != "" {
		t.Errorf("OpenAPI v3 group versions (-want +got):\n%s", diff)
	}
	for _, r := range testResources() {
		doc, err := root.GVSpec(r.GroupVersion())
		if err != nil {
			t.Fatalf("GVSpec(%s): %v", r.GroupVersion(), err)
		}
		found, supported, smp := openapiV3PatchSupport(doc, r.GroupVersionKind(), "fieldValidation")
		if !found || !supported || !smp {
			t.Errorf("%s: PATCH found=%v fieldValidation=%v strategic-merge=%v, want all true", r.GroupVersionKind(), found, supported, smp)
		}
		if _, ok := doc.Components.Schemas[DefinitionName(openapiTypeOf(r.New()))]; !ok {
			t.Errorf("%s: no schema for the kind", r.GroupVersionKind())
		}
	}
}

// kubectl apply computes its patch from the OpenAPI v3 schema; it must equal the patch from
// the Go types (what kubectl does without OpenAPI): containers merge by name, and so on.
func TestOpenAPIV3StrategicMergeMatchesGoTypes(t *testing.T) {
	root := openapi3.NewRoot(openapiTestClient(t).OpenAPIV3())
	doc, err := root.GVSpec(schema.GroupVersion{Version: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	pod := doc.Components.Schemas["io.k8s.api.core.v1.Pod"]
	fromSchema := strategicpatch.PatchMetaFromOpenAPIV3{Schema: pod, SchemaList: doc.Components.Schemas}
	fromStruct, err := strategicpatch.NewPatchMetaFromStruct(&corev1.Pod{})
	if err != nil {
		t.Fatal(err)
	}
	original := []byte(`{"metadata":{"name":"p","labels":{"a":"1"}},"spec":{"containers":[{"name":"a","image":"x:1","ports":[{"containerPort":80}],
		"resources":{"limits":{"cpu":"1"}}},{"name":"b","image":"y:1","env":[{"name":"E","value":"1"}]}],"volumes":[{"name":"v","emptyDir":{}}]}}`)
	modified := []byte(`{"metadata":{"name":"p","labels":{"b":"2"}},"spec":{"containers":[{"name":"b","image":"y:2","env":[{"name":"F","value":"2"}]},
		{"name":"a","image":"x:1","ports":[{"containerPort":8080}],"resources":{"limits":{"cpu":"2"}}}],"volumes":[]}}`)
	current := []byte(`{"metadata":{"name":"p","labels":{"a":"1"},"resourceVersion":"7"},"spec":{"containers":[{"name":"a","image":"x:1","ports":[{"containerPort":80}],
		"resources":{"limits":{"cpu":"1"}}},{"name":"b","image":"y:1","env":[{"name":"E","value":"1"}]}],"volumes":[{"name":"v","emptyDir":{}}],"nodeName":"n1"}}`)
	want, err := strategicpatch.CreateThreeWayMergePatch(original, modified, current, fromStruct, false)
	if err != nil {
		t.Fatal(err)
	}
	got, err := strategicpatch.CreateThreeWayMergePatch(original, modified, current, fromSchema, false)
	if err != nil {
		t.Fatalf("patch from OpenAPI v3: %v", err)
	}
	if !strings.Contains(string(want), "$setElementOrder/containers") {
		t.Fatalf("test is not exercising merge keys: %s", want)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("patch from OpenAPI v3 differs from the Go types' (-want +got):\n%s", diff)
	}
}

// openapiV2Kinds maps GVKs to their models as kubectl's OpenAPI v2 resources do.
func openapiV2Kinds(t *testing.T, models proto.Models) map[schema.GroupVersionKind]proto.Schema {
	out := map[schema.GroupVersionKind]proto.Schema{}
	for _, name := range models.ListModels() {
		m := models.LookupModel(name)
		list, _ := m.GetExtensions()["x-kubernetes-group-version-kind"].([]interface{})
		for _, e := range list {
			g := e.(map[interface{}]interface{})
			out[schema.GroupVersionKind{Group: g["group"].(string), Version: g["version"].(string), Kind: g["kind"].(string)}] = m
		}
	}
	return out
}

func TestOpenAPIV2ProtobufForKubectl(t *testing.T) {
	doc, err := openapiTestClient(t).OpenAPISchema() // protobuf, as kubectl asks
	if err != nil {
		t.Fatal(err)
	}
	models, err := proto.NewOpenAPIData(doc)
	if err != nil {
		t.Fatalf("kubectl could not parse the v2 document: %v", err)
	}
	kinds := openapiV2Kinds(t, models)
	for _, r := range testResources() {
		if kinds[r.GroupVersionKind()] == nil {
			t.Errorf("no v2 model for %s", r.GroupVersionKind())
		}
		if !openapiV2PatchSupport(doc, r.GroupVersionKind(), "fieldValidation") {
			t.Errorf("%s: v2 PATCH does not take fieldValidation", r.GroupVersionKind())
		}
	}
	pod := kinds[schema.GroupVersionKind{Version: "v1", Kind: "Pod"}]
	var good, bad map[string]interface{}
	_ = yaml.Unmarshal([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {a: b}}\nspec:\n  containers:\n  - {name: c, image: i, ports: [{containerPort: 80}], resources: {limits: {memory: 1Gi}}}\n"), &good)
	_ = yaml.Unmarshal([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: i, imagePullPolice: Always}\n"), &bad)
	if errs := validation.ValidateModel(good, pod, "Pod"); len(errs) != 0 {
		t.Errorf("client-side validation of a valid pod: %v", errs)
	}
	if errs := validation.ValidateModel(bad, pod, "Pod"); len(errs) != 1 || !strings.Contains(errs[0].Error(), "imagePullPolice") {
		t.Errorf("client-side validation of a misspelt field: %v, want one error naming it", errs)
	}
}

// openapiV2PatchSupport is the v2 half of kubectl's check (cli-runtime supportsQueryParam).
func openapiV2PatchSupport(doc *openapiv2.Document, gvk schema.GroupVersionKind, param string) bool {
	for _, path := range doc.GetPaths().GetPath() {
		patch := path.GetValue().GetPatch()
		var ok bool
		for _, ext := range patch.GetVendorExtension() {
			var v map[string]string
			if ext.GetName() == "x-kubernetes-group-version-kind" && yaml.Unmarshal([]byte(ext.GetValue().GetYaml()), &v) == nil {
				ok = v["group"] == gvk.Group && v["version"] == gvk.Version && v["kind"] == gvk.Kind
			}
		}
		if !ok {
			continue
		}
		for _, p := range patch.GetParameters() {
			if p.GetParameter().GetNonBodyParameter().GetQueryParameterSubSchema().GetName() == param {
				return true
			}
		}
		return false
	}
	return false
}

func TestOpenAPIBuildIsFastAndJSONIsValid(t *testing.T) {
	start := time.Now()
	docs, err := openapiBuild(groupsOf(testResources(), nil), testVersion())
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("built OpenAPI in %v: v2 %d bytes JSON, %d protobuf; v3 core %d bytes", took, len(docs.v2JSON.body), len(docs.v2Proto.body), len(docs.v3["api/v1"].body))
	limit := 2 * time.Second
	if raceEnabled {
		limit *= 10 // the race detector slows this reflection-heavy code down about tenfold
	}
	if took > limit {
		t.Errorf("building OpenAPI took %v (limit %v)", took, limit)
	}
	var v2 struct {
		Swagger     string                     `json:"swagger"`
		Definitions map[string]json.RawMessage `json:"definitions"`
	}
	if err := json.Unmarshal(docs.v2JSON.body, &v2); err != nil || v2.Swagger != "2.0" {
		t.Fatalf("v2 JSON: %v %q", err, v2.Swagger)
	}
	for _, name := range []string{"io.k8s.api.core.v1.Pod", "io.k8s.api.autoscaling.v1.Scale", "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"} {
		if _, ok := v2.Definitions[name]; !ok {
			t.Errorf("v2 has no definition %s", name)
		}
	}
}

func TestOpenAPIDocumentsCarryTheVersionGiven(t *testing.T) {
	info := testVersion()
	info.GitVersion = "v1.32.0-drover+9.9.9"
	docs, err := openapiBuild(groupsOf(testResources(), nil), info)
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{"v2": docs.v2JSON.body, "v3 api/v1": docs.v3["api/v1"].body, "v3 apis/batch/v1": docs.v3["apis/batch/v1"].body} {
		var doc struct {
			Info struct{ Version string } `json:"info"`
		}
		if err := json.Unmarshal(body, &doc); err != nil || doc.Info.Version != info.GitVersion {
			t.Errorf("%s: info.version = %q (%v), want %q", name, doc.Info.Version, err, info.GitVersion)
		}
	}
}
