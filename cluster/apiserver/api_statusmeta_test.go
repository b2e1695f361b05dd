package apiserver_test

import (
	"encoding/json"
	"net/http"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
)

// TestStatusPatchAppliesMetadata: a PATCH of /status changes labels and annotations with the
// status, as Kubernetes' status strategies (which only reset the spec) do: pods (ownerReferences
// kept, podStatusStrategy), Services (the conformance "service status lifecycle" patch) and
// ReplicationControllers; a Deployment's status keeps its labels but takes the annotations.
func TestStatusPatchAppliesMetadata(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	owner, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod := newPod("p", map[string]string{"a": "1"})
	pod.Spec.AutomountServiceAccountToken = ptr.To(false)
	pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: owner.UID}}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	patch := []byte(`{"metadata":{"labels":{"a":"2"},"annotations":{"patchedstatus":"true"},"ownerReferences":null},` +
		`"spec":{"activeDeadlineSeconds":5},"status":{"message":"patched"}}`)
	p, err := cs.CoreV1().Pods("default").Patch(ctx, "p", types.MergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil {
		t.Fatal(err)
	}
	if p.Labels["a"] != "2" || p.Annotations["patchedstatus"] != "true" || p.Status.Message != "patched" {
		t.Errorf("pod after the status patch: labels %v annotations %v message %q", p.Labels, p.Annotations, p.Status.Message)
	}
	if len(p.OwnerReferences) != 1 || p.Spec.ActiveDeadlineSeconds != nil {
		t.Errorf("pod status patch changed ownerReferences %v or spec activeDeadlineSeconds %v", p.OwnerReferences, p.Spec.ActiveDeadlineSeconds)
	}

	if _, err := cs.CoreV1().Services("default").Create(ctx, newService("svc"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc, err := cs.CoreV1().Services("default").Patch(ctx, "svc", types.StrategicMergePatchType,
		[]byte(`{"metadata":{"annotations":{"patchedstatus":"true"}},"status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.1"}]}}}`),
		metav1.PatchOptions{}, "status")
	if err != nil {
		t.Fatal(err)
	}
	if svc.Annotations["patchedstatus"] != "true" || len(svc.Status.LoadBalancer.Ingress) != 1 {
		t.Errorf("service after the status patch: annotations %v status %+v", svc.Annotations, svc.Status)
	}

	if _, err := cs.CoreV1().ReplicationControllers("default").Create(ctx, newRC("rc", 1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rc, err := cs.CoreV1().ReplicationControllers("default").Patch(ctx, "rc", types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"rc":"patched"}},"status":{"replicas":1}}`), metav1.PatchOptions{}, "status")
	if err != nil {
		t.Fatal(err)
	}
	if rc.Labels["rc"] != "patched" || rc.Status.Replicas != 1 {
		t.Errorf("rc after the status patch: labels %v replicas %d", rc.Labels, rc.Status.Replicas)
	}

	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d", Labels: map[string]string{"app": "d"}},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "d"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "d"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}}}}}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := cs.AppsV1().Deployments("default").Patch(ctx, "d", types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"app":"other"},"annotations":{"patchedstatus":"true"}}}`), metav1.PatchOptions{}, "status")
	if err != nil {
		t.Fatal(err)
	}
	if got.Labels["app"] != "d" || got.Annotations["patchedstatus"] != "true" {
		t.Errorf("deployment after the status patch: labels %v annotations %v", got.Labels, got.Annotations)
	}
}

// TestTableNotAcceptable: a Table asked of a resource that cannot be tabled (a TokenReview,
// the pods/binding, eviction and token subresources) is Kubernetes' 406, before anything is
// done; with another acceptable media type in Accept that one is served; the status
// subresource is tabled as its resource is (kubectl get --subresource=status).
func TestTableNotAcceptable(t *testing.T) {
	t.Parallel()
	srv, cs := startClient(t)
	ctx := testCtx(t)
	hc, err := rest.HTTPClientFor(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	table := http.Header{"Accept": {"application/json;as=Table;g=meta.k8s.io;v=v1"}}
	review := []byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"nope"}}`)
	resp := doWith(t, hc, http.MethodPost, srv.URL+"/apis/authentication.k8s.io/v1/tokenreviews", "application/json", review, table)
	st := resp.status(t)
	if resp.code != http.StatusNotAcceptable || st.Reason != metav1.StatusReasonNotAcceptable ||
		st.Message != "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf" {
		t.Errorf("table of a token review: %d %+v", resp.code, st)
	}
	both := http.Header{"Accept": {"application/json;as=Table;g=meta.k8s.io;v=v1, application/json"}}
	if resp := doWith(t, hc, http.MethodPost, srv.URL+"/apis/authentication.k8s.io/v1/tokenreviews", "application/json", review, both); resp.code != http.StatusCreated {
		t.Errorf("table or json of a token review: %d %s", resp.code, resp.body)
	}

	pod := newPod("p", nil)
	pod.Spec.AutomountServiceAccountToken = ptr.To(false)
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := []byte(`{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p"},"target":{"kind":"Node","name":"n1"}}`)
	resp = doWith(t, hc, http.MethodPost, srv.URL+"/api/v1/namespaces/default/pods/p/binding", "application/json", binding, table)
	if resp.code != http.StatusNotAcceptable {
		t.Errorf("table of a binding: %d %s", resp.code, resp.body)
	}
	if p, err := cs.CoreV1().Pods("default").Get(ctx, "p", metav1.GetOptions{}); err != nil || p.Spec.NodeName != "" {
		t.Errorf("the refused binding bound the pod: %v %q", err, p.Spec.NodeName)
	}

	resp = doWith(t, hc, http.MethodGet, srv.URL+"/api/v1/namespaces/default/pods/p/status", "", nil, table)
	var tbl metav1.Table
	if err := json.Unmarshal(resp.body, &tbl); resp.code != http.StatusOK || err != nil || tbl.Kind != "Table" || len(tbl.Rows) != 1 {
		t.Errorf("table of pods/p/status: %d %v %s", resp.code, err, resp.body)
	}
}
