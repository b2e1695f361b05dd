package app

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
)

func yamlObject(t *testing.T, s string) *unstructured.Unstructured {
	t.Helper()
	objs, err := decodeDocument([]byte(s))
	if err != nil || len(objs) != 1 {
		t.Fatalf("decode: %v (%d objects)", err, len(objs))
	}
	return objs[0]
}

const rcV1 = `apiVersion: v1
kind: ReplicationController
metadata: {name: slave, namespace: default, labels: {app: slave}}
spec:
  replicas: 1
  selector: {name: slave}
  template:
    metadata: {labels: {name: slave}}
    spec:
      containers:
      - name: slave
        image: swarm:1
        env: [{name: A, value: "1"}, {name: B, value: "2"}]
`

func TestAnnotateLastApplied(t *testing.T) {
	obj := yamlObject(t, rcV1)
	modified, err := annotateLastApplied(obj)
	if err != nil {
		t.Fatal(err)
	}
	var m unstructured.Unstructured
	if err := json.Unmarshal(modified, &m.Object); err != nil {
		t.Fatal(err)
	}
	last := m.GetAnnotations()[lastAppliedAnnotation]
	var inner map[string]interface{}
	if err := json.Unmarshal([]byte(last), &inner); err != nil {
		t.Fatalf("annotation is not JSON: %v", err)
	}
	if d := cmp.Diff(obj.Object, inner); d != "" {
		t.Errorf("annotation differs from the object (-obj +annotation):\n%s", d)
	}
	if obj.GetAnnotations() != nil {
		t.Errorf("the input object was modified")
	}
}

// live simulates what the server keeps after an apply: the modified configuration plus
// server-set fields.
func live(t *testing.T, modified []byte) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := json.Unmarshal(modified, &u.Object); err != nil {
		t.Fatal(err)
	}
	u.SetResourceVersion("7")
	u.SetUID("u-1")
	_ = unstructured.SetNestedField(u.Object, int64(1), "status", "replicas")
	_ = unstructured.SetNestedField(u.Object, "IfNotPresent", "spec", "template", "spec", "containers", "0", "imagePullPolicy")
	return u
}

func TestApplyPatch(t *testing.T) {
	first, _ := annotateLastApplied(yamlObject(t, rcV1))
	current := live(t, first)

	patch, pt, err := applyPatch(current, first)
	if err != nil {
		t.Fatal(err)
	}
	if pt != types.StrategicMergePatchType || string(patch) != "{}" {
		t.Errorf("re-applying the same file: patch %s (%s), want {} (strategic)", patch, pt)
	}

	v2 := strings.Replace(rcV1, "swarm:1", "swarm:2", 1)
	v2 = strings.Replace(v2, `, {name: B, value: "2"}`, "", 1)
	v2 = strings.Replace(v2, "labels: {app: slave}", "labels: {}", 1)
	second, _ := annotateLastApplied(yamlObject(t, v2))
	patch, _, err = applyPatch(current, second)
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]interface{}
	if err := json.Unmarshal(patch, &p); err != nil {
		t.Fatal(err)
	}
	s := string(patch)
	for _, want := range []string{`"image":"swarm:2"`, `"labels":{"app":null}`, `"$setElementOrder/env":[{"name":"A"}]`, `{"$patch":"delete","name":"B"}`} {
		if !strings.Contains(s, want) {
			t.Errorf("patch %s lacks %s", s, want)
		}
	}
	if strings.Contains(s, "imagePullPolicy") || strings.Contains(s, "status") {
		t.Errorf("patch %s touches server-set fields", s)
	}
}

func TestApplyPatchUnknownTypeUsesMergePatch(t *testing.T) {
	obj := yamlObject(t, "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 1, color: red}\n")
	first, _ := annotateLastApplied(obj)
	current := live(t, first)
	obj2 := yamlObject(t, "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 2}\n")
	second, _ := annotateLastApplied(obj2)
	patch, pt, err := applyPatch(current, second)
	if err != nil {
		t.Fatal(err)
	}
	if pt != types.MergePatchType {
		t.Errorf("patch type = %s", pt)
	}
	if s := string(patch); !strings.Contains(s, `"spec":{"color":null,"size":2}`) {
		t.Errorf("patch = %s", s)
	}
}

func TestApplyOnceDecisions(t *testing.T) {
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "replicationcontrollers"}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{gvr: "ReplicationControllerList"})
	var patches []string
	dyn.PrependReactor("patch", "replicationcontrollers", func(a k8stesting.Action) (bool, runtime.Object, error) {
		patches = append(patches, string(a.(k8stesting.PatchAction).GetPatch()))
		obj, err := dyn.Tracker().Get(gvr, "default", "slave")
		return true, obj, err
	})
	rc := dyn.Resource(gvr).Namespace("default")
	obj := yamlObject(t, rcV1)
	modified, _ := annotateLastApplied(obj)

	steps := []struct {
		modified []byte
		want     applyResult
	}{{modified, applyCreated}, {modified, applyUnchanged}}
	v2, _ := annotateLastApplied(yamlObject(t, strings.Replace(rcV1, "replicas: 1", "replicas: 3", 1)))
	steps = append(steps, struct {
		modified []byte
		want     applyResult
	}{v2, applyConfigured})
	for i, s := range steps {
		got, err := applyOnce(t.Context(), rc, obj, s.modified, "Strict")
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got != s.want {
			t.Errorf("step %d: %s, want %s", i, got, s.want)
		}
	}
	if len(patches) != 1 || !strings.Contains(patches[0], `"replicas":3`) {
		t.Errorf("patches sent = %v", patches)
	}
	stored, err := rc.Get(t.Context(), "slave", metavOpts)
	if err != nil {
		t.Fatal(err)
	}
	if stored.GetAnnotations()[lastAppliedAnnotation] == "" {
		t.Errorf("created object lacks %s", lastAppliedAnnotation)
	}
}
