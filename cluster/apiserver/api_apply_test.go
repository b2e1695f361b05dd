package apiserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	appsv1apply "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1apply "k8s.io/client-go/applyconfigurations/core/v1"
	metav1apply "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
)

// managers returns "manager/operation[/subresource]" for each managedFields entry of m.
func managers(m metav1.Object) []string {
	var out []string
	for _, e := range m.GetManagedFields() {
		s := e.Manager + "/" + string(e.Operation)
		if e.Subresource != "" {
			s += "/" + e.Subresource
		}
		out = append(out, s)
	}
	return out
}

// Server-side apply with client-go's typed Apply, as kube-apiserver serves it: the first apply
// creates (201), managedFields record the applier and the updaters, a second manager's apply
// of a field another owns is a 409 naming the conflict unless forced, a field no longer applied
// is removed, and a list with map keys (containers by name) merges per element.
func TestServerSideApply(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)

	cm := corev1apply.ConfigMap("settings", "default").WithData(map[string]string{"a": "1", "b": "2"})
	got, err := cs.CoreV1().ConfigMaps("default").Apply(ctx, cm, metav1.ApplyOptions{FieldManager: "alice"})
	if err != nil {
		t.Fatalf("first apply: %v", err)
	}
	if got.Data["a"] != "1" || got.UID == "" {
		t.Fatalf("applied config map: %+v", got)
	}
	if m := managers(got); len(m) != 1 || m[0] != "alice/Apply" {
		t.Errorf("managedFields after the first apply: %v", m)
	}

	// An update by another manager is recorded as that manager's.
	got.Data["c"] = "3"
	got, err = cs.CoreV1().ConfigMaps("default").Update(ctx, got, metav1.UpdateOptions{FieldManager: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if m := strings.Join(managers(got), ","); m != "alice/Apply,bob/Update" {
		t.Errorf("managedFields after bob's update: %s", m)
	}

	// A conflicting apply: 409 with the conflict, then forced.
	conflicting := corev1apply.ConfigMap("settings", "default").WithData(map[string]string{"a": "changed"})
	_, err = cs.CoreV1().ConfigMaps("default").Apply(ctx, conflicting, metav1.ApplyOptions{FieldManager: "carol"})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), `conflict with "alice"`) || !strings.Contains(err.Error(), ".data.a") {
		t.Fatalf("conflicting apply: %v, want a 409 naming alice and .data.a", err)
	}
	got, err = cs.CoreV1().ConfigMaps("default").Apply(ctx, conflicting, metav1.ApplyOptions{FieldManager: "carol", Force: true})
	if err != nil {
		t.Fatalf("forced apply: %v", err)
	}
	if got.Data["a"] != "changed" || got.Data["b"] != "2" || got.Data["c"] != "3" {
		t.Errorf("after carol's forced apply: %v", got.Data)
	}

	// alice applies without b: b goes (she was its only owner); a is carol's now, so it stays.
	got, err = cs.CoreV1().ConfigMaps("default").Apply(ctx, corev1apply.ConfigMap("settings", "default").WithData(map[string]string{}),
		metav1.ApplyOptions{FieldManager: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Data["b"]; ok || got.Data["a"] != "changed" || got.Data["c"] != "3" {
		t.Errorf("after alice dropped her fields: %v", got.Data)
	}

	// Containers merge by name: a second manager adds a container and owns only it.
	dep := appsv1apply.Deployment("web", "default").WithSpec(appsv1apply.DeploymentSpec().
		WithSelector(metav1applyLabelSelector("web")).
		WithTemplate(corev1apply.PodTemplateSpec().WithLabels(map[string]string{"app": "web"}).
			WithSpec(corev1apply.PodSpec().WithContainers(corev1apply.Container().WithName("app").WithImage("nginx:1")))))
	if _, err := cs.AppsV1().Deployments("default").Apply(ctx, dep, metav1.ApplyOptions{FieldManager: "deployer"}); err != nil {
		t.Fatalf("apply deployment: %v", err)
	}
	sidecar := appsv1apply.Deployment("web", "default").WithSpec(appsv1apply.DeploymentSpec().
		WithTemplate(corev1apply.PodTemplateSpec().
			WithSpec(corev1apply.PodSpec().WithContainers(corev1apply.Container().WithName("sidecar").WithImage("envoy:1")))))
	d, err := cs.AppsV1().Deployments("default").Apply(ctx, sidecar, metav1.ApplyOptions{FieldManager: "injector"})
	if err != nil {
		t.Fatalf("apply sidecar: %v", err)
	}
	if names := containerNames(d); names != "app,sidecar" {
		t.Errorf("containers after the sidecar apply: %s, want app,sidecar", names)
	}
	// The deployer re-applies its own container only: the sidecar stays.
	if d, err = cs.AppsV1().Deployments("default").Apply(ctx, dep, metav1.ApplyOptions{FieldManager: "deployer"}); err != nil {
		t.Fatal(err)
	}
	if names := containerNames(d); names != "app,sidecar" {
		t.Errorf("containers after the deployer re-applied: %s, want app,sidecar", names)
	}
}

func metav1applyLabelSelector(app string) *metav1apply.LabelSelectorApplyConfiguration {
	return metav1apply.LabelSelector().WithMatchLabels(map[string]string{"app": app})
}

func containerNames(d *appsv1.Deployment) string {
	var names []string
	for _, c := range d.Spec.Template.Spec.Containers {
		names = append(names, c.Name)
	}
	return strings.Join(names, ",")
}

// rawApply sends an apply request with the given query and YAML body and returns the status
// code and body.
func rawApply(t *testing.T, ctx context.Context, cs kubernetes.Interface, path, query string, body string) (int, string) {
	t.Helper()
	res := cs.CoreV1().RESTClient().Patch(types.ApplyPatchType).AbsPath(path).Body([]byte(body))
	for _, kv := range strings.Split(query, "&") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			res = res.Param(k, v)
		}
	}
	var code int
	out, _ := res.Do(ctx).StatusCode(&code).Raw()
	return code, string(out)
}

// The options and inputs kube-apiserver refuses: no fieldManager, force on another patch
// type, a name that differs from the URL's, a field the schema does not declare (a 500 with
// the merge's message, as kube-apiserver answers), duplicate fields with Strict.
func TestServerSideApplyRefusals(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	const path = "/api/v1/namespaces/default/configmaps/cfg"
	body := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: \"1\"\n"

	code, out := rawApply(t, ctx, cs, path, "", body)
	if code != http.StatusUnprocessableEntity || !strings.Contains(out, "fieldManager: Required value: is required for apply patch") {
		t.Errorf("apply without fieldManager: %d %s", code, out)
	}
	var c int
	out2, _ := cs.CoreV1().RESTClient().Patch(types.MergePatchType).AbsPath(path).Param("force", "true").
		Body([]byte(`{}`)).Do(ctx).StatusCode(&c).Raw()
	if c != http.StatusUnprocessableEntity || !strings.Contains(string(out2), "force: Forbidden: may not be specified for non-apply patch") {
		t.Errorf("merge patch with force: %d %s", c, out2)
	}
	code, out = rawApply(t, ctx, cs, path, "fieldManager=m", strings.Replace(body, "name: cfg", "name: other", 1))
	if code != http.StatusBadRequest || !strings.Contains(out, "the name of the object (other) does not match the name on the URL (cfg)") {
		t.Errorf("apply with another name: %d %s", code, out)
	}
	code, out = rawApply(t, ctx, cs, path, "fieldManager=m", body+"unknownField: x\n")
	if code != http.StatusInternalServerError || !strings.Contains(out, ".unknownField: field not declared in schema") {
		t.Errorf("apply with an unknown field: %d %s", code, out)
	}
	code, out = rawApply(t, ctx, cs, path, "fieldManager=m&fieldValidation=Strict", body+"data:\n  b: \"2\"\n")
	if code != http.StatusBadRequest || !strings.Contains(out, `key \"data\" already set in map`) {
		t.Errorf("strict apply with a duplicate field: %d %s", code, out)
	}
	if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "cfg", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a refused apply left an object: %v", err)
	}
	// fieldManager is checked on create too.
	_, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}},
		metav1.CreateOptions{FieldManager: strings.Repeat("m", 129)})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "fieldManager: Too long: may not be more than 128 bytes") {
		t.Errorf("create with a 129-byte fieldManager: %v", err)
	}
	code, out = rawApply(t, ctx, cs, path, "fieldManager=m", body)
	if code != http.StatusCreated {
		t.Errorf("valid apply: %d %s", code, out)
	}
	// force is a bool parameter: "True" forces, as "true" does; a non-bool is a 400.
	changed := strings.Replace(body, `a: "1"`, `a: "2"`, 1)
	code, out = rawApply(t, ctx, cs, path, "fieldManager=n&force=maybe", changed)
	if code != http.StatusBadRequest || !strings.Contains(out, `force: invalid boolean value \"maybe\"`) {
		t.Errorf("apply with force=maybe: %d %s", code, out)
	}
	code, out = rawApply(t, ctx, cs, path, "fieldManager=n&force=True", changed)
	if code != http.StatusOK || !strings.Contains(out, `"a":"2"`) {
		t.Errorf("apply with force=True over m's field: %d %s", code, out)
	}
}

// The FieldValidation conformance specs of custom resources: a valid CR applied, unknown
// fields refused by a CRD with a schema, accepted by one preserving them, duplicates refused.
func TestServerSideApplyCustomResource(t *testing.T) {
	t.Parallel()
	srv := apiservertest.Start(t)
	cs := clientFor(t, srv.Config)
	ctx := testCtx(t)
	var schema apiextensionsv1.CustomResourceValidation
	if err := json.Unmarshal([]byte(`{"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object",
		"x-kubernetes-preserve-unknown-fields": true,
		"properties": {
		  "template": {"type": "object", "x-kubernetes-embedded-resource": true, "properties": {
		    "metadata": {"type": "object", "properties": {"name": {"type": "string"}}}, "spec": {"type": "object"}}},
		  "foo": {"type": "string"},
		  "ports": {"type": "array", "x-kubernetes-list-map-keys": ["containerPort", "protocol"], "x-kubernetes-list-type": "map",
		    "items": {"type": "object", "required": ["containerPort", "protocol"], "properties": {
		      "containerPort": {"type": "integer", "format": "int32"}, "name": {"type": "string"}, "protocol": {"type": "string"}}}}}}}}}`), &schema); err != nil {
		t.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "noxus.example.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{Group: "example.com", Scope: apiextensionsv1.ClusterScoped,
			Names:    apiextensionsv1.CustomResourceDefinitionNames{Plural: "noxus", Singular: "noxu", Kind: "Noxu", ListKind: "NoxuList"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v1", Served: true, Storage: true, Schema: &schema}}},
	}
	createCRD(t, ctx, srv.Config, crd)
	const path = "/apis/example.com/v1/noxus/mytest"
	// The body as the conformance spec sends it (a leading newline: its line numbers).
	valid := "\napiVersion: example.com/v1\nkind: Noxu\nmetadata:\n  name: mytest\nspec:\n  foo: foo1\n  ports:\n  - name: x\n    containerPort: 80\n    protocol: TCP\n"

	code, out := rawApply(t, ctx, cs, path, "fieldManager=field_validation_mgr&fieldValidation=Strict",
		strings.Replace(valid, "metadata:\n  name: mytest\n", "metadata:\n  name: mytest\n  unknownMeta: unknown\n", 1))
	if !strings.Contains(out, ".metadata.unknownMeta: field not declared in schema") {
		t.Errorf("unknown metadata field: %d %s", code, out)
	}
	code, out = rawApply(t, ctx, cs, path, "fieldManager=field_validation_mgr&fieldValidation=Strict",
		strings.Replace(valid, "spec:\n", "unknownField: unknown\nspec:\n", 1))
	if !strings.Contains(out, ".unknownField: field not declared in schema") {
		t.Errorf("unknown root field: %d %s", code, out)
	}
	code, out = rawApply(t, ctx, cs, path, "fieldManager=field_validation_mgr&fieldValidation=Strict",
		strings.Replace(valid, "  foo: foo1\n", "  unknown: uk1\n  foo: foo1\n  foo: foo2\n", 1))
	if code != http.StatusBadRequest || !strings.Contains(out, `line 9: key \"foo\" already set in map`) {
		t.Errorf("duplicate field: %d %s", code, out)
	}
	code, out = rawApply(t, ctx, cs, path, "fieldManager=field_validation_mgr&fieldValidation=Strict",
		strings.Replace(valid, "  foo: foo1\n", "  unknown: uk1\n  foo: foo1\n", 1))
	if code != http.StatusCreated {
		t.Fatalf("valid apply (unknown field preserved): %d %s", code, out)
	}
	var obj struct {
		Metadata metav1.ObjectMeta      `json:"metadata"`
		Spec     map[string]interface{} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(out), &obj); err != nil {
		t.Fatal(err)
	}
	if obj.Spec["unknown"] != "uk1" || len(obj.Metadata.ManagedFields) != 1 || obj.Metadata.ManagedFields[0].Manager != "field_validation_mgr" {
		t.Errorf("applied custom object: %s", out)
	}
	// A second manager adds a port: the list merges by its map keys.
	code, out = rawApply(t, ctx, cs, path, "fieldManager=other",
		"apiVersion: example.com/v1\nkind: Noxu\nmetadata:\n  name: mytest\nspec:\n  ports:\n  - containerPort: 443\n    protocol: TCP\n")
	if code != http.StatusOK || !strings.Contains(out, `"containerPort":80`) || !strings.Contains(out, `"containerPort":443`) {
		t.Errorf("second manager's port: %d %s", code, out)
	}
}

// kubectl's server-side apply: create, no change, a conflict with another field manager
// (kubectl's message names it), --force-conflicts, the managed fields shown, a dry-run diff.
func TestKubectlServerSideApply(t *testing.T) {
	t.Parallel()
	srv := apiservertest.Start(t)
	kubectl := kubectlFor(t, srv)
	must := mustKubectl(t, kubectl)
	dir := t.TempDir()
	write := func(name, replicas, image string) string {
		p := filepath.Join(dir, name)
		doc := fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: %s
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: %s
`, replicas, image)
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	first := write("a.yaml", "2", "nginx:1")
	if out := must("apply", "--server-side", "-f", first); !strings.Contains(out, "deployment.apps/web serverside-applied") {
		t.Errorf("first apply: %s", out)
	}
	if out := must("apply", "--server-side", "-f", first); !strings.Contains(out, "deployment.apps/web serverside-applied") {
		t.Errorf("second apply: %s", out)
	}
	other := write("b.yaml", "5", "nginx:1")
	out, err := kubectl("apply", "--server-side", "--field-manager", "ops", "-f", other)
	if err == nil || !strings.Contains(out, `conflict with "kubectl"`) || !strings.Contains(out, ".spec.replicas") {
		t.Errorf("conflicting apply: %v\n%s", err, out)
	}
	must("apply", "--server-side", "--field-manager", "ops", "--force-conflicts", "-f", other)
	if out := must("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"); out != "5" {
		t.Errorf("replicas after the forced apply: %q", out)
	}
	if out := must("get", "deploy", "web", "-o", "yaml", "--show-managed-fields"); !strings.Contains(out, "manager: ops") ||
		!strings.Contains(out, "manager: kubectl") || !strings.Contains(out, "operation: Apply") {
		t.Errorf("managed fields:\n%s", out)
	}
	// A server-side diff is a dry-run apply: it shows the change and stores nothing.
	changed := write("c.yaml", "5", "nginx:2")
	out, err = kubectl("diff", "--server-side", "--force-conflicts", "--field-manager", "ops", "-f", changed)
	if !strings.Contains(out, "+      - image: nginx:2") {
		t.Errorf("server-side diff: %v\n%s", err, out)
	}
	if out := must("get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); out != "nginx:1" {
		t.Errorf("image after the diff: %q, want nginx:1 (a dry run)", out)
	}
}
