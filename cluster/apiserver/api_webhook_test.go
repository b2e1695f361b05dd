package apiserver_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
)

// reviewServer is an HTTPS webhook: answer turns each request body into the JSON answer.
func reviewServer(t *testing.T, answer func(body []byte) (interface{}, error)) (url string, caBundle []byte, calls *atomic.Int32) {
	t.Helper()
	calls = &atomic.Int32{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		out, err := answer(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), calls
}

// webhookServer is an HTTPS admission webhook: decide answers each AdmissionReview request.
func webhookServer(t *testing.T, decide func(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse) (url string, caBundle []byte, calls *atomic.Int32) {
	t.Helper()
	return reviewServer(t, func(body []byte) (interface{}, error) {
		var review admissionv1.AdmissionReview
		if err := json.Unmarshal(body, &review); err != nil || review.Request == nil {
			return nil, fmt.Errorf("bad review: %v", err)
		}
		resp := decide(review.Request)
		resp.UID = review.Request.UID
		review.Response, review.Request = resp, nil
		return review, nil
	})
}

func sideEffectsNone() *admissionregistrationv1.SideEffectClass {
	s := admissionregistrationv1.SideEffectClassNone
	return &s
}

func failurePolicy(p admissionregistrationv1.FailurePolicyType) *admissionregistrationv1.FailurePolicyType {
	return &p
}

func configMapRule(ops ...admissionregistrationv1.OperationType) []admissionregistrationv1.RuleWithOperations {
	return []admissionregistrationv1.RuleWithOperations{{Operations: ops, Rule: admissionregistrationv1.Rule{
		APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}}}}
}

// retryUntil retries op until it returns nil or ctx ends (webhook configurations reach the
// server's informers a moment after they are written, as in Kubernetes).
func retryUntil(t *testing.T, ctx context.Context, what string, op func() error) {
	t.Helper()
	for {
		err := op()
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Validating and mutating admission webhooks are called as kube-apiserver calls them: a denial
// is the client's error with the webhook's message, a JSON patch changes the object stored,
// rules choose the operations and resources, namespaceSelector the namespaces, and
// failurePolicy decides what an unreachable webhook means.
func TestAdmissionWebhooks(t *testing.T) {
	_, cs := startClient(t)
	ctx := testCtx(t)
	denyURL, denyCA, _ := webhookServer(t, func(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
		var cm corev1.ConfigMap
		obj := req.Object.Raw
		if req.Operation == admissionv1.Delete {
			obj = req.OldObject.Raw
		}
		_ = json.Unmarshal(obj, &cm)
		if cm.Data["forbidden"] != "" || (req.Operation == admissionv1.Delete && cm.Name == "keep") {
			return &admissionv1.AdmissionResponse{Allowed: false, Result: &metav1.Status{Code: 403, Message: "this webhook denies it"}}
		}
		return &admissionv1.AdmissionResponse{Allowed: true}
	})
	patchType := admissionv1.PatchTypeJSONPatch
	mutateURL, mutateCA, mutateCalls := webhookServer(t, func(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
		return &admissionv1.AdmissionResponse{Allowed: true, PatchType: &patchType,
			Patch: []byte(`[{"op":"add","path":"/data/mutated","value":"yes"}]`)}
	})
	// Only namespaces labelled webhooks=on are seen by the mutating webhook.
	for _, ns := range []*corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: "hooked", Labels: map[string]string{"webhooks": "on"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "plain"}},
	} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "deny"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "deny.example.com", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &denyURL, CABundle: denyCA},
			Rules:       configMapRule(admissionregistrationv1.Create, admissionregistrationv1.Update, admissionregistrationv1.Delete),
			SideEffects: sideEffectsNone(), AdmissionReviewVersions: []string{"v1"},
		}}}
	if _, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, vwc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ValidatingWebhookConfiguration: %v", err)
	}
	mwc := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "mutate"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "mutate.example.com", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &mutateURL, CABundle: mutateCA},
			Rules:             configMapRule(admissionregistrationv1.Create),
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"webhooks": "on"}},
			SideEffects:       sideEffectsNone(), AdmissionReviewVersions: []string{"v1"},
		}}}
	if _, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, mwc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create MutatingWebhookConfiguration: %v", err)
	}

	cm := func(name string, data map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: data}
	}
	retryUntil(t, ctx, "the validating webhook denying a create", func() error {
		_, err := cs.CoreV1().ConfigMaps("plain").Create(ctx, cm("bad", map[string]string{"forbidden": "x"}), metav1.CreateOptions{})
		if err == nil {
			_ = cs.CoreV1().ConfigMaps("plain").Delete(ctx, "bad", metav1.DeleteOptions{})
			return io.EOF // not yet in force
		}
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `admission webhook "deny.example.com" denied the request: this webhook denies it`) {
			t.Fatalf("denied create: %v", err)
		}
		return nil
	})
	if _, err := cs.CoreV1().ConfigMaps("plain").Get(ctx, "bad", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the denied ConfigMap was stored: %v", err)
	}
	// The mutating webhook: in the labelled namespace only.
	var got *corev1.ConfigMap
	retryUntil(t, ctx, "the mutating webhook", func() error {
		_ = cs.CoreV1().ConfigMaps("hooked").Delete(ctx, "m", metav1.DeleteOptions{})
		var err error
		got, err = cs.CoreV1().ConfigMaps("hooked").Create(ctx, cm("m", map[string]string{"a": "b"}), metav1.CreateOptions{})
		if err != nil {
			return err
		}
		if got.Data["mutated"] != "yes" {
			return io.EOF
		}
		return nil
	})
	if stored, _ := cs.CoreV1().ConfigMaps("hooked").Get(ctx, "m", metav1.GetOptions{}); stored.Data["mutated"] != "yes" {
		t.Errorf("the mutation was not stored: %v", stored.Data)
	}
	before := mutateCalls.Load()
	plain, err := cs.CoreV1().ConfigMaps("plain").Create(ctx, cm("p", map[string]string{"a": "b"}), metav1.CreateOptions{})
	if err != nil || plain.Data["mutated"] != "" || mutateCalls.Load() != before {
		t.Errorf("a namespace the selector does not match: %v %v (calls %d → %d)", plain.Data, err, before, mutateCalls.Load())
	}
	// Updates and deletes.
	plain.Data["forbidden"] = "now"
	if _, err := cs.CoreV1().ConfigMaps("plain").Update(ctx, plain, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("update denied by the webhook: %v", err)
	}
	if _, err := cs.CoreV1().ConfigMaps("plain").Create(ctx, cm("keep", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().ConfigMaps("plain").Delete(ctx, "keep", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "this webhook denies it") {
		t.Errorf("delete denied by the webhook: %v", err)
	}
	// failurePolicy: an unreachable webhook fails the request with Fail, not with Ignore.
	dead := "https://127.0.0.1:1/dead"
	for _, fp := range []admissionregistrationv1.FailurePolicyType{admissionregistrationv1.Ignore, admissionregistrationv1.Fail} {
		name := "dead-" + strings.ToLower(string(fp))
		cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{
				Name: name + ".example.com", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &dead, CABundle: denyCA},
				Rules: []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
					Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"secrets"}}}},
				FailurePolicy: failurePolicy(fp), SideEffects: sideEffectsNone(), AdmissionReviewVersions: []string{"v1"},
			}}}
		if _, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, cfg, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	retryUntil(t, ctx, "failurePolicy Fail", func() error {
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{GenerateName: "s-"}}
		_, err := cs.CoreV1().Secrets("plain").Create(ctx, sec, metav1.CreateOptions{})
		if err == nil {
			return io.EOF
		}
		if !strings.Contains(err.Error(), `failed calling webhook "dead-fail.example.com"`) {
			t.Fatalf("create with an unreachable Fail webhook: %v", err)
		}
		return nil
	})
	if err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(ctx, "dead-fail", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	retryUntil(t, ctx, "failurePolicy Ignore", func() error {
		_, err := cs.CoreV1().Secrets("plain").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{GenerateName: "s-"}}, metav1.CreateOptions{})
		return err
	})
}

// A mutating webhook patches a custom object as it patches a built-in one, and what it adds
// that the schema does not know is pruned.
func TestAdmissionWebhookCustomResource(t *testing.T) {
	srv, cs := startClient(t)
	ctx := testCtx(t)
	createCRD(t, ctx, srv.Config, widgetCRD())
	patchType := admissionv1.PatchTypeJSONPatch
	url, ca, _ := webhookServer(t, func(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
		return &admissionv1.AdmissionResponse{Allowed: true, PatchType: &patchType,
			Patch: []byte(`[{"op":"add","path":"/spec/color","value":"mutated"},{"op":"add","path":"/spec/unknown","value":"pruned"}]`)}
	})
	mwc := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "widgets"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "widgets.example.com", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: ca},
			Rules: []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{APIGroups: []string{"example.com"}, APIVersions: []string{"v1"}, Resources: []string{"widgets"}}}},
			SideEffects: sideEffectsNone(), AdmissionReviewVersions: []string{"v1"},
		}}}
	if _, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, mwc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	widgets := dynamic.NewForConfigOrDie(srv.Config).Resource(widgetsV1).Namespace("default")
	retryUntil(t, ctx, "the mutating webhook on a widget", func() error {
		_ = widgets.Delete(ctx, "w", metav1.DeleteOptions{})
		got, err := widgets.Create(ctx, widget("w", map[string]interface{}{"color": "red"}), metav1.CreateOptions{})
		if err != nil {
			return err
		}
		if c, _, _ := unstructured.NestedString(got.Object, "spec", "color"); c != "mutated" {
			return io.EOF
		}
		if _, found, _ := unstructured.NestedFieldNoCopy(got.Object, "spec", "unknown"); found {
			t.Fatalf("a field the webhook added that the schema does not know was kept: %v", got.Object["spec"])
		}
		return nil
	})
}

// A CONNECT (pods/attach, exec, portforward) passes the webhooks too, with the request's
// options as the object (kube-apiserver's "should be able to deny attaching pod").
func TestAdmissionWebhookConnect(t *testing.T) {
	_, cs := startClient(t)
	ctx := testCtx(t)
	var seen atomic.Value
	url, ca, _ := webhookServer(t, func(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
		seen.Store(req.Kind.Kind + " " + req.SubResource + " " + string(req.Operation))
		return &admissionv1.AdmissionResponse{Allowed: false, Result: &metav1.Status{Code: 403, Message: "attaching to pod 'p' is not allowed"}}
	})
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "deny-attach"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "deny-attach.example.com", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: ca},
			Rules: []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Connect},
				Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods/attach"}}}},
			SideEffects: sideEffectsNone(), AdmissionReviewVersions: []string{"v1"},
		}}}
	if _, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, vwc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	retryUntil(t, ctx, "the default ServiceAccount", func() error {
		_, err := cs.CoreV1().Pods("default").Create(ctx, newPod("p", nil), metav1.CreateOptions{})
		return err
	})
	retryUntil(t, ctx, "attach denied by the webhook", func() error {
		err := cs.CoreV1().RESTClient().Post().AbsPath("/api/v1/namespaces/default/pods/p/attach").Param("stdout", "true").Do(ctx).Error()
		if err != nil && strings.Contains(err.Error(), "attaching to pod 'p' is not allowed") {
			return nil
		}
		return fmt.Errorf("attach: %v", err)
	})
	if got, _ := seen.Load().(string); got != "PodAttachOptions attach CONNECT" {
		t.Errorf("the webhook saw %q, want PodAttachOptions attach CONNECT", got)
	}
}

// matchPolicy Equivalent (the default) sends a request made through another version of the
// resource a rule names, converted to the rule's version; Exact does not.
func TestAdmissionWebhookMatchPolicy(t *testing.T) {
	srv, cs := startClient(t)
	ctx := testCtx(t)
	createCRD(t, ctx, srv.Config, widgetCRD())
	var seen atomic.Value
	patchType := admissionv1.PatchTypeJSONPatch
	url, ca, _ := webhookServer(t, func(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
		var obj map[string]interface{}
		_ = json.Unmarshal(req.Object.Raw, &obj)
		seen.Store(fmt.Sprintf("%s %s %v", req.Kind.Version, req.RequestKind.Version, obj["apiVersion"]))
		return &admissionv1.AdmissionResponse{Allowed: true, PatchType: &patchType,
			Patch: []byte(`[{"op":"add","path":"/spec/color","value":"from-v1-webhook"}]`)}
	})
	v1Only := []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		Rule: admissionregistrationv1.Rule{APIGroups: []string{"example.com"}, APIVersions: []string{"v1"}, Resources: []string{"widgets"}}}}
	exact := admissionregistrationv1.Exact
	for _, c := range []struct {
		name   string
		policy *admissionregistrationv1.MatchPolicyType
	}{{"equivalent", nil}, {"exact", &exact}} {
		mwc := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: c.name},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{
				Name: c.name + ".example.com", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: ca},
				Rules: v1Only, MatchPolicy: c.policy, SideEffects: sideEffectsNone(), AdmissionReviewVersions: []string{"v1"},
				ObjectSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"policy": c.name}},
			}}}
		if _, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, mwc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	v2 := widgetsV1
	v2.Version = "v2"
	widgets := dynamic.NewForConfigOrDie(srv.Config).Resource(v2).Namespace("default")
	create := func(name, policy string) *unstructured.Unstructured {
		w := widget(name, map[string]interface{}{"color": "red"})
		w.SetAPIVersion("example.com/v2")
		w.SetLabels(map[string]string{"policy": policy})
		got, err := widgets.Create(ctx, w, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create %s through v2: %v", name, err)
		}
		return got
	}
	retryUntil(t, ctx, "the Equivalent webhook on a v2 widget", func() error {
		_ = widgets.Delete(ctx, "eq", metav1.DeleteOptions{})
		got := create("eq", "equivalent")
		if c, _, _ := unstructured.NestedString(got.Object, "spec", "color"); c != "from-v1-webhook" {
			return fmt.Errorf("color %q", c)
		}
		return nil
	})
	if got, _ := seen.Load().(string); got != "v1 v2 example.com/v1" {
		t.Errorf("the webhook saw kind, request kind, object apiVersion %q, want v1 v2 example.com/v1", got)
	}
	if got := create("ex", "exact"); got.Object["spec"].(map[string]interface{})["color"] != "red" {
		t.Errorf("an Exact webhook for v1 mutated a v2 request: %v", got.Object["spec"])
	}
}
