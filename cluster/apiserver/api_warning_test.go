package apiserver_test

import (
	"io"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// The warnings an admission webhook answers with reach the client as Warning headers, as
// kube-apiserver sends them (k8s.io/apiserver's warning recorder is the request's).
func TestAdmissionWebhookWarnings(t *testing.T) {
	srv, cs := startClient(t)
	ctx := testCtx(t)
	warns := &warningCollector{}
	cfg := rest.CopyConfig(srv.Config)
	cfg.WarningHandler = warns
	wcs := clientFor(t, cfg)
	url, ca, _ := webhookServer(t, func(*admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
		return &admissionv1.AdmissionResponse{Allowed: true, Warnings: []string{"configmaps are watched"}}
	})
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "warn"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "warn.example.com", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: ca},
			Rules: configMapRule(admissionregistrationv1.Create), SideEffects: sideEffectsNone(), AdmissionReviewVersions: []string{"v1"},
		}}}
	if _, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, vwc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	retryUntil(t, ctx, "the webhook's warning", func() error {
		_ = cs.CoreV1().ConfigMaps("default").Delete(ctx, "w", metav1.DeleteOptions{})
		warns.take()
		if _, err := wcs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "w"}}, metav1.CreateOptions{}); err != nil {
			return err
		}
		for _, m := range warns.take() {
			if m == "configmaps are watched" {
				return nil
			}
		}
		return io.EOF
	})
}
