package apiserver_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/store/memstore"
)

var widgetsV1 = schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}

// widgetCRD is a namespaced CRD with a schema (a default, a typed field), the status and
// scale subresources, a printer column, and a second served version that is not stored.
func widgetCRD() *apiextensionsv1.CustomResourceDefinition {
	schemaFor := func() *apiextensionsv1.CustomResourceValidation {
		return &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
			Type: "object",
			Properties: map[string]apiextensionsv1.JSONSchemaProps{
				"spec": {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{
					"replicas": {Type: "integer", Default: &apiextensionsv1.JSON{Raw: []byte("1")}},
					"color":    {Type: "string"},
				}},
				"status": {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{
					"replicas": {Type: "integer"},
					"selector": {Type: "string"},
				}},
			},
		}}
	}
	subresources := &apiextensionsv1.CustomResourceSubresources{
		Status: &apiextensionsv1.CustomResourceSubresourceStatus{},
		Scale: &apiextensionsv1.CustomResourceSubresourceScale{SpecReplicasPath: ".spec.replicas",
			StatusReplicasPath: ".status.replicas", LabelSelectorPath: strPtr(".status.selector")},
	}
	columns := []apiextensionsv1.CustomResourceColumnDefinition{{Name: "Color", Type: "string", JSONPath: ".spec.color"}}
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets.example.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "example.com", Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "widgets", Singular: "widget", Kind: "Widget",
				ListKind: "WidgetList", ShortNames: []string{"wd"}},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{
				{Name: "v1", Served: true, Storage: true, Schema: schemaFor(), Subresources: subresources, AdditionalPrinterColumns: columns},
				{Name: "v2", Served: true, Storage: false, Schema: schemaFor(), Subresources: subresources, AdditionalPrinterColumns: columns},
			},
		},
	}
}

func strPtr(s string) *string { return &s }

// createCRD creates crd and waits until it is Established.
func createCRD(t *testing.T, ctx context.Context, cfg *rest.Config, crd *apiextensionsv1.CustomResourceDefinition) apiextensionsclient.Interface {
	t.Helper()
	ext, err := apiextensionsclient.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create CRD: %v", err)
	}
	waitEstablished(t, ctx, ext, crd.Name)
	return ext
}

func waitEstablished(t *testing.T, ctx context.Context, ext apiextensionsclient.Interface, name string) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	for {
		got, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get CRD: %v", err)
		}
		for _, c := range got.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return got
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("CRD %s never Established: %+v", name, got.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func widget(name string, spec map[string]interface{}) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": "example.com/v1", "kind": "Widget",
		"metadata": map[string]interface{}{"name": name},
		"spec":     spec,
	}}
}

// A CRD is served as Kubernetes serves it: Established with its accepted names, its resources
// in discovery, objects pruned and defaulted by the schema and validated against it, the
// status and scale subresources, printer columns, a second version served from the same
// storage, and merge patches (strategic merge patches are refused as kube-apiserver refuses
// them for custom resources).
func TestCustomResourceDefinition(t *testing.T) {
	srv, cs := startClient(t)
	ctx := testCtx(t)
	ext := createCRD(t, ctx, srv.Config, widgetCRD())
	crd := waitEstablished(t, ctx, ext, "widgets.example.com")
	if crd.Status.AcceptedNames.Kind != "Widget" || len(crd.Status.StoredVersions) != 1 || crd.Status.StoredVersions[0] != "v1" {
		t.Errorf("status: acceptedNames %+v storedVersions %v", crd.Status.AcceptedNames, crd.Status.StoredVersions)
	}
	list, err := cs.Discovery().ServerResourcesForGroupVersion("example.com/v1")
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var names []string
	for _, r := range list.APIResources {
		names = append(names, r.Name)
	}
	if got := strings.Join(names, ","); got != "widgets,widgets/status,widgets/scale" {
		t.Errorf("discovery of example.com/v1: %s", got)
	}

	dyn := dynamic.NewForConfigOrDie(srv.Config)
	widgets := dyn.Resource(widgetsV1).Namespace("default")
	// Unknown fields are pruned (and refused with fieldValidation=Strict); defaults filled.
	_, err = widgets.Create(ctx, widget("strict", map[string]interface{}{"color": "red", "extra": "x"}), metav1.CreateOptions{FieldValidation: "Strict"})
	if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), `unknown field "spec.extra"`) {
		t.Errorf("strict create with an unknown field: %v", err)
	}
	w := widget("w1", map[string]interface{}{"color": "red", "extra": "x"})
	w.Object["status"] = map[string]interface{}{"replicas": int64(7)}
	got, err := widgets.Create(ctx, w, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create widget: %v", err)
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(got.Object, "spec", "extra"); found {
		t.Errorf("spec.extra not pruned: %v", got.Object)
	}
	if r, _, _ := unstructured.NestedInt64(got.Object, "spec", "replicas"); r != 1 {
		t.Errorf("spec.replicas not defaulted to 1: %v", got.Object["spec"])
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(got.Object, "status"); found {
		t.Errorf("create kept status with the status subresource: %v", got.Object["status"])
	}
	// The schema's types are checked.
	_, err = widgets.Create(ctx, widget("bad", map[string]interface{}{"replicas": "three"}), metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.replicas") {
		t.Errorf("create with a string replicas: %v", err)
	}
	// Malformed metadata is refused, not dropped.
	raw := []byte(`{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"badmeta","labels":5},"spec":{}}`)
	err = cs.CoreV1().RESTClient().Post().AbsPath("/apis/example.com/v1/namespaces/default/widgets").
		SetHeader("Content-Type", "application/json").Body(raw).Do(ctx).Error()
	if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "Widget in version \"v1\" cannot be handled as a Widget") {
		t.Errorf("create with labels that are not a map: %v, want 400", err)
	}
	// Status through the subresource only.
	unstructured.SetNestedField(got.Object, map[string]interface{}{"replicas": int64(2), "selector": "app=w1"}, "status")
	if got, err = widgets.UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update status: %v", err)
	}
	if r, _, _ := unstructured.NestedInt64(got.Object, "status", "replicas"); r != 2 {
		t.Errorf("status after UpdateStatus: %v", got.Object["status"])
	}
	if got.GetGeneration() != 1 {
		t.Errorf("a status update changed generation to %d", got.GetGeneration())
	}
	// Scale.
	scale, err := widgets.Get(ctx, "w1", metav1.GetOptions{}, "scale")
	if err != nil {
		t.Fatalf("get scale: %v", err)
	}
	if r, _, _ := unstructured.NestedInt64(scale.Object, "spec", "replicas"); r != 1 {
		t.Errorf("scale spec.replicas: %v", scale.Object)
	}
	if sel, _, _ := unstructured.NestedString(scale.Object, "status", "selector"); sel != "app=w1" {
		t.Errorf("scale status.selector: %v", scale.Object)
	}
	unstructured.SetNestedField(scale.Object, int64(5), "spec", "replicas")
	if _, err := widgets.Update(ctx, scale, metav1.UpdateOptions{}, "scale"); err != nil {
		t.Fatalf("update scale: %v", err)
	}
	// A main-resource update keeps the stored status; a metadata-only change keeps the
	// generation; a status update keeps the stored metadata (a custom resource's status
	// strategy, unlike the built-in ones').
	cur, err := widgets.Get(ctx, "w1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gen := cur.GetGeneration()
	unstructured.SetNestedField(cur.Object, int64(99), "status", "replicas")
	cur.SetLabels(map[string]string{"tier": "a"})
	if cur, err = widgets.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update: %v", err)
	}
	if r, _, _ := unstructured.NestedInt64(cur.Object, "status", "replicas"); r != 2 || cur.GetGeneration() != gen || cur.GetLabels()["tier"] != "a" {
		t.Errorf("a main update with a label and a status: status.replicas %d (want 2), generation %d (want %d), labels %v",
			r, cur.GetGeneration(), gen, cur.GetLabels())
	}
	cur.SetLabels(map[string]string{"tier": "b"})
	unstructured.SetNestedField(cur.Object, int64(3), "status", "replicas")
	if cur, err = widgets.UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update status: %v", err)
	}
	if r, _, _ := unstructured.NestedInt64(cur.Object, "status", "replicas"); r != 3 || cur.GetLabels()["tier"] != "a" {
		t.Errorf("a status update with a label: status.replicas %d (want 3), labels %v (want tier=a kept)", r, cur.GetLabels())
	}
	// Merge patch; strategic merge patch is refused.
	got, err = widgets.Patch(ctx, "w1", types.MergePatchType, []byte(`{"spec":{"color":"blue"}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("merge patch: %v", err)
	}
	if r, _, _ := unstructured.NestedInt64(got.Object, "spec", "replicas"); r != 5 {
		t.Errorf("spec.replicas after scaling to 5: %v", got.Object["spec"])
	}
	if got.GetGeneration() != 3 {
		t.Errorf("generation after two spec changes: %d, want 3", got.GetGeneration())
	}
	_, err = widgets.Patch(ctx, "w1", types.StrategicMergePatchType, []byte(`{"spec":{"color":"green"}}`), metav1.PatchOptions{})
	if !apierrors.IsUnsupportedMediaType(err) {
		t.Errorf("strategic merge patch of a custom resource: %v, want 415", err)
	}
	// The same object through v2.
	v2 := widgetsV1
	v2.Version = "v2"
	got2, err := dyn.Resource(v2).Namespace("default").Get(ctx, "w1", metav1.GetOptions{})
	if err != nil || got2.GetAPIVersion() != "example.com/v2" {
		t.Fatalf("get through v2: %v %v", got2, err)
	}
	// Printer columns (with some defined, no Age column is added, as in Kubernetes).
	var table metav1.Table
	raw, err = cs.CoreV1().RESTClient().Get().AbsPath("/apis/example.com/v1/namespaces/default/widgets").
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(ctx)
	if err != nil {
		t.Fatalf("table: %v", err)
	}
	if err := json.Unmarshal(raw, &table); err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, c := range table.ColumnDefinitions {
		cols = append(cols, c.Name)
	}
	if strings.Join(cols, ",") != "Name,Color" || len(table.Rows) != 1 || table.Rows[0].Cells[1] != "blue" {
		t.Errorf("table: columns %v rows %+v", cols, table.Rows)
	}
}

// Deleting a CRD deletes its objects first (each the usual way: a finalizer holds one), keeps
// the CRD Terminating meanwhile and refuses new objects; the garbage collector follows custom
// owners (a ConfigMap owned by a widget goes with it).
func TestCustomResourceDefinitionDeletion(t *testing.T) {
	srv, cs := startClient(t)
	ctx := testCtx(t)
	ext := createCRD(t, ctx, srv.Config, widgetCRD())
	widgets := dynamic.NewForConfigOrDie(srv.Config).Resource(widgetsV1).Namespace("default")
	held := widget("held", map[string]interface{}{})
	held.SetFinalizers([]string{"example.com/hold"})
	if _, err := widgets.Create(ctx, held, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	owner, err := widgets.Create(ctx, widget("owner", map[string]interface{}{}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owned", OwnerReferences: []metav1.OwnerReference{{
		APIVersion: "example.com/v1", Kind: "Widget", Name: "owner", UID: owner.GetUID()}}}}
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the collector must not take the live widget for gone
	if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "owned", metav1.GetOptions{}); err != nil {
		t.Fatalf("the ConfigMap owned by a live widget: %v", err)
	}
	if err := widgets.Delete(ctx, "owner", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, ctx, func() error {
		_, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "owned", metav1.GetOptions{})
		return err
	})

	if err := ext.ApiextensionsV1().CustomResourceDefinitions().Delete(ctx, "widgets.example.com", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for {
		got, err := widgets.Get(ctx, "held", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("the held widget went before its finalizer: %v", err)
		}
		if got.GetDeletionTimestamp() != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	crd, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, "widgets.example.com", metav1.GetOptions{})
	if err != nil || crd.DeletionTimestamp == nil {
		t.Fatalf("the CRD while a widget is left: %v %v", crd, err)
	}
	_, err = widgets.Create(ctx, widget("late", map[string]interface{}{}), metav1.CreateOptions{})
	if !apierrors.IsMethodNotSupported(err) || !strings.Contains(err.Error(), "terminating") {
		t.Errorf("create while the CRD is terminating: %v", err)
	}
	if _, err := widgets.Patch(ctx, "held", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, ctx, func() error {
		_, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, "widgets.example.com", metav1.GetOptions{})
		return err
	})
	// The server stops serving them once its watch brings the deletion (as kube-apiserver, a
	// moment after).
	waitGone(t, ctx, func() error {
		_, err := widgets.List(ctx, metav1.ListOptions{})
		return err
	})
}

func waitGone(t *testing.T, ctx context.Context, get func() error) {
	t.Helper()
	for {
		err := get()
		if apierrors.IsNotFound(err) {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("still there: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A CRD made through one API server is served by another on the same store (a cluster's
// servers follow the store), and by a server started afterwards from its first request.
func TestCustomResourceDefinitionOtherServers(t *testing.T) {
	st := memstore.New()
	a := apiservertest.StartWith(t, st, t.TempDir())
	b := apiservertest.StartWith(t, st, t.TempDir())
	ctx := testCtx(t)
	createCRD(t, ctx, a.Config, widgetCRD())
	if _, err := dynamic.NewForConfigOrDie(a.Config).Resource(widgetsV1).Namespace("default").Create(ctx, widget("w", map[string]interface{}{}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := dynamic.NewForConfigOrDie(b.Config).Resource(widgetsV1).Namespace("default").Get(ctx, "w", metav1.GetOptions{})
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the other server never served the widget: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c := apiservertest.StartWith(t, st, t.TempDir())
	if _, err := dynamic.NewForConfigOrDie(c.Config).Resource(widgetsV1).Namespace("default").Get(ctx, "w", metav1.GetOptions{}); err != nil {
		t.Errorf("a server started after the CRD: %v", err)
	}
}

// Deleting a CRD none of whose versions is served any more still deletes its objects: a CRD of
// the same name made later does not bring them back.
func TestCustomResourceDefinitionDeletionUnserved(t *testing.T) {
	srv, _ := startClient(t)
	ctx := testCtx(t)
	ext := createCRD(t, ctx, srv.Config, widgetCRD())
	widgets := dynamic.NewForConfigOrDie(srv.Config).Resource(widgetsV1).Namespace("default")
	if _, err := widgets.Create(ctx, widget("old", map[string]interface{}{}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	crd, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, "widgets.example.com", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range crd.Spec.Versions {
		crd.Spec.Versions[i].Served = false
	}
	if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Update(ctx, crd, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("serve no version: %v", err)
	}
	if err := ext.ApiextensionsV1().CustomResourceDefinitions().Delete(ctx, crd.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, ctx, func() error {
		_, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
		return err
	})
	createCRD(t, ctx, srv.Config, widgetCRD())
	retryUntil(t, ctx, "the CRD made again served", func() error {
		list, err := widgets.List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if len(list.Items) > 0 {
			t.Fatalf("the deleted CRD's object came back: %v", list.Items[0].GetName())
		}
		return nil
	})
}
