package apiserver_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
)

// conversionWebhook answers ConversionReviews: v1's spec.color is v2's spec.colour.
func conversionWebhook(t *testing.T) (url string, caBundle []byte, calls *atomic.Int32) {
	t.Helper()
	return reviewServer(t, func(body []byte) (interface{}, error) {
		var review apiextensionsv1.ConversionReview
		if err := json.Unmarshal(body, &review); err != nil || review.Request == nil {
			return nil, fmt.Errorf("bad review: %v", err)
		}
		resp := &apiextensionsv1.ConversionResponse{UID: review.Request.UID, Result: metav1.Status{Status: metav1.StatusSuccess}}
		for _, raw := range review.Request.Objects {
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON(raw.Raw); err != nil {
				return nil, err
			}
			from, to := "color", "colour"
			if strings.HasSuffix(review.Request.DesiredAPIVersion, "/v1") {
				from, to = "colour", "color"
			}
			if c, ok, _ := unstructured.NestedString(u.Object, "spec", from); ok {
				unstructured.RemoveNestedField(u.Object, "spec", from)
				_ = unstructured.SetNestedField(u.Object, c, "spec", to)
			}
			u.SetAPIVersion(review.Request.DesiredAPIVersion)
			b, _ := u.MarshalJSON()
			resp.ConvertedObjects = append(resp.ConvertedObjects, runtime.RawExtension{Raw: b})
		}
		review.Response, review.Request = resp, nil
		return review, nil
	})
}

// A CRD whose versions differ in more than their apiVersion converts through its conversion
// webhook, as kube-apiserver does: an object written through one version is read through the
// other converted, and objects stored before the storage version changed are converted too.
func TestCustomResourceConversionWebhook(t *testing.T) {
	srv, _ := startClient(t)
	ctx := testCtx(t)
	url, ca, calls := conversionWebhook(t)
	crd := widgetCRD()
	preserve := true
	for i := range crd.Spec.Versions {
		crd.Spec.Versions[i].Schema.OpenAPIV3Schema.Properties["spec"] = apiextensionsv1.JSONSchemaProps{Type: "object", XPreserveUnknownFields: &preserve}
		crd.Spec.Versions[i].Subresources.Scale = nil
	}
	crd.Spec.Conversion = &apiextensionsv1.CustomResourceConversion{Strategy: apiextensionsv1.WebhookConverter,
		Webhook: &apiextensionsv1.WebhookConversion{ClientConfig: &apiextensionsv1.WebhookClientConfig{URL: &url, CABundle: ca},
			ConversionReviewVersions: []string{"v1"}}}
	ext := createCRD(t, ctx, srv.Config, crd)
	dyn := dynamic.NewForConfigOrDie(srv.Config)
	v2 := widgetsV1
	v2.Version = "v2"
	w := &unstructured.Unstructured{Object: map[string]interface{}{"apiVersion": "example.com/v2", "kind": "Widget",
		"metadata": map[string]interface{}{"name": "w2"}, "spec": map[string]interface{}{"colour": "red"}}}
	if _, err := dyn.Resource(v2).Namespace("default").Create(ctx, w, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create through v2: %v", err)
	}
	got, err := dyn.Resource(widgetsV1).Namespace("default").Get(ctx, "w2", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get through v1: %v", err)
	}
	if c, _, _ := unstructured.NestedString(got.Object, "spec", "color"); c != "red" || got.GetAPIVersion() != "example.com/v1" {
		t.Errorf("read through v1: %v", got.Object)
	}
	if calls.Load() == 0 {
		t.Error("the conversion webhook was never called")
	}
	// v2 becomes the storage version: a list through v2 holds an object stored as v1 and one
	// stored as v2, each converted as needed.
	cur, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Spec.Versions[0].Storage, cur.Spec.Versions[1].Storage = false, true
	if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	retryUntil(t, ctx, "a widget stored as v2", func() error {
		_ = dyn.Resource(v2).Namespace("default").Delete(ctx, "w3", metav1.DeleteOptions{})
		w.SetName("w3")
		w.SetResourceVersion("")
		_, err := dyn.Resource(v2).Namespace("default").Create(ctx, w, metav1.CreateOptions{})
		return err
	})
	list, err := dyn.Resource(v2).Namespace("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list through v2: %v", err)
	}
	for _, item := range list.Items {
		if c, _, _ := unstructured.NestedString(item.Object, "spec", "colour"); c != "red" || item.GetAPIVersion() != "example.com/v2" {
			t.Errorf("listed through v2: %v", item.Object)
		}
	}
	if len(list.Items) != 2 {
		t.Errorf("listed %d widgets, want 2", len(list.Items))
	}
}
