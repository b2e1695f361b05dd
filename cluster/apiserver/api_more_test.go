package apiserver_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestDryRunStoresNothing(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	pods := cs.CoreV1().Pods("default")
	dry := []string{metav1.DryRunAll}
	got, err := pods.Create(ctx, newPod("dry", nil), metav1.CreateOptions{DryRun: dry})
	if err != nil {
		t.Fatalf("dry-run create: %v", err)
	}
	if got.Name != "dry" || got.Spec.Containers[0].ImagePullPolicy == "" {
		t.Errorf("dry-run answer not defaulted: %+v", got.Spec.Containers[0])
	}
	if _, err := pods.Get(ctx, "dry", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("dry-run create stored the pod: %v", err)
	}
	p, err := pods.Create(ctx, newPod("real", map[string]string{"v": "1"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Labels["v"] = "2"
	if _, err := pods.Update(ctx, p, metav1.UpdateOptions{DryRun: dry}); err != nil {
		t.Fatalf("dry-run update: %v", err)
	}
	if err := pods.Delete(ctx, "real", metav1.DeleteOptions{DryRun: dry}); err != nil {
		t.Fatalf("dry-run delete: %v", err)
	}
	stored, err := pods.Get(ctx, "real", metav1.GetOptions{})
	if err != nil || stored.Labels["v"] != "1" {
		t.Errorf("dry runs changed the pod: %v %v", err, stored)
	}
}

func TestDeleteCollectionWithSelector(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	cms := cs.CoreV1().ConfigMaps("default")
	for name, tier := range map[string]string{"a": "x", "b": "x", "c": "y"} {
		if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"tier": tier}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := cms.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "tier=x"}); err != nil {
		t.Fatal(err)
	}
	// Only the test's own ConfigMaps: the serviceaccount controller beside the server puts
	// kube-root-ca.crt into the namespace at a moment of its own.
	list, err := cms.List(ctx, metav1.ListOptions{LabelSelector: "tier"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != "c" {
		t.Errorf("left after deletecollection tier=x: %d items", len(list.Items))
	}
}

func TestPatchStatus(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	pods := cs.CoreV1().Pods("default")
	if _, err := pods.Create(ctx, newPod("ps", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := pods.Patch(ctx, "ps", types.MergePatchType,
		[]byte(`{"status":{"phase":"Running","podIP":"10.0.0.7"},"spec":{"containers":[{"name":"x","image":"y"}]}}`), metav1.PatchOptions{}, "status")
	if err != nil {
		t.Fatalf("status patch: %v", err)
	}
	if got.Status.Phase != corev1.PodRunning || got.Status.PodIP != "10.0.0.7" || got.Spec.Containers[0].Name != "main" {
		t.Errorf("status patch: phase %q ip %q container %q", got.Status.Phase, got.Status.PodIP, got.Spec.Containers[0].Name)
	}
	list, _ := pods.List(ctx, metav1.ListOptions{FieldSelector: "status.podIP=10.0.0.7"})
	if len(list.Items) != 1 {
		t.Errorf("status.podIP selector: %d pods", len(list.Items))
	}
}

func TestNamespaceFinalizeSubresource(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	nss := cs.CoreV1().Namespaces()
	ns, err := nss.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fin"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ns.Spec.Finalizers) != 1 || ns.Spec.Finalizers[0] != corev1.FinalizerKubernetes {
		t.Fatalf("new namespace finalizers %v", ns.Spec.Finalizers)
	}
	// A plain update cannot change spec.finalizers.
	ns.Spec.Finalizers = append(ns.Spec.Finalizers, "example.com/extra")
	ns, err = nss.Update(ctx, ns, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ns.Spec.Finalizers) != 1 {
		t.Errorf("update changed spec.finalizers to %v", ns.Spec.Finalizers)
	}
	// The finalize subresource can.
	ns.Spec.Finalizers = append(ns.Spec.Finalizers, "example.com/extra")
	ns, err = nss.Finalize(ctx, ns, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("finalize: %v", err)
	}
	if len(ns.Spec.Finalizers) != 2 {
		t.Fatalf("finalize did not set spec.finalizers: %v", ns.Spec.Finalizers)
	}
	if err := nss.Delete(ctx, "fin", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The server empties the namespace and drops its own finalizer; the extra one holds it.
	eventually(t, 10*time.Second, "kubernetes finalizer dropped", func() (bool, error) {
		n, err := nss.Get(ctx, "fin", metav1.GetOptions{})
		return err == nil && len(n.Spec.Finalizers) == 1 && n.Spec.Finalizers[0] == "example.com/extra", err
	})
	n, _ := nss.Get(ctx, "fin", metav1.GetOptions{})
	n.Spec.Finalizers = nil
	if _, err := nss.Finalize(ctx, n, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("finalize to empty: %v", err)
	}
	eventually(t, 10*time.Second, "namespace gone", func() (bool, error) {
		_, err := nss.Get(ctx, "fin", metav1.GetOptions{})
		return gone(err)
	})
}

func TestWatchAsTable(t *testing.T) {
	t.Parallel()
	srv, cs := startClient(t)
	ctx := testCtx(t)
	if _, err := cs.CoreV1().Pods("default").Create(ctx, newPod("tw", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hc, token := caClient(t, srv.Kubeconfig)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=5", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("table watch: %d", resp.StatusCode)
	}
	var ev struct {
		Type   string
		Object metav1.Table
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	if !sc.Scan() {
		t.Fatalf("no watch event: %v", sc.Err())
	}
	if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
		t.Fatalf("event %s: %v", sc.Bytes(), err)
	}
	if ev.Type != "ADDED" || ev.Object.Kind != "Table" || len(ev.Object.Rows) != 1 || ev.Object.Rows[0].Cells[0] != "tw" {
		t.Errorf("table watch event: %s", sc.Bytes())
	}
}

func TestDeepPatchRefusedQuickly(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	pods := cs.CoreV1().Pods("default")
	if _, err := pods.Create(ctx, newPod("deep", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deep := strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000)
	start := time.Now()
	_, err := pods.Patch(ctx, "deep", types.MergePatchType, []byte(deep), metav1.PatchOptions{})
	wantStatus(t, "deeply nested merge patch", err, 400)
	if d := time.Since(start); d > time.Second {
		t.Errorf("refusing a deep patch took %v", d)
	}
	// Brackets inside strings (with escaped quotes) are not nesting.
	value := `\"` + strings.Repeat("{[", 300)
	got, err := pods.Patch(ctx, "deep", types.MergePatchType, []byte(`{"metadata":{"annotations":{"x":"`+value+`"}}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("patch with brackets in a string: %v", err)
	}
	if got.Annotations["x"] != `"`+strings.Repeat("{[", 300) {
		t.Errorf("annotation = %.40q", got.Annotations["x"])
	}
}

func TestWatchParameters(t *testing.T) {
	t.Parallel()
	srv, _ := startClient(t)
	for _, q := range []string{"resourceVersion=abc", "resourceVersion=-3", "timeoutSeconds=x", "fieldSelector=spec.image%3Dx"} {
		r := doRaw(t, srv, http.MethodGet, "/api/v1/namespaces/default/pods?watch=true&"+q, "", nil)
		if r.code != http.StatusBadRequest {
			t.Errorf("watch with %s: %d, want 400: %s", q, r.code, r.body)
		}
	}
	// timeoutSeconds ends the stream.
	start := time.Now()
	r := doRaw(t, srv, http.MethodGet, "/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=1", "", nil)
	if r.code != 200 {
		t.Errorf("watch with timeoutSeconds=1: %d", r.code)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("watch with timeoutSeconds=1 lasted %v", d)
	}
}

func TestYAMLOutput(t *testing.T) {
	t.Parallel()
	srv, cs := startClient(t)
	ctx := testCtx(t)
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "y"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hc, token := caClient(t, srv.Kubeconfig)
	r := doWith(t, hc, http.MethodGet, srv.URL+"/api/v1/namespaces/default/configmaps/y", "", nil,
		http.Header{"Authorization": {"Bearer " + token}, "Accept": {"application/yaml"}})
	if r.code != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/yaml") {
		t.Fatalf("YAML get: %d %q", r.code, r.header.Get("Content-Type"))
	}
	if !strings.Contains(string(r.body), "kind: ConfigMap\n") || !strings.Contains(string(r.body), "  k: v\n") {
		t.Errorf("YAML body:\n%s", r.body)
	}
}

func TestBearerSchemeCaseInsensitive(t *testing.T) {
	t.Parallel()
	srv, _ := startClient(t)
	hc, token := caClient(t, srv.Kubeconfig)
	for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
		r := doWith(t, hc, http.MethodGet, srv.URL+"/api/v1/namespaces", "", nil, http.Header{"Authorization": {scheme + " " + token}})
		if r.code != 200 {
			t.Errorf("scheme %q: %d", scheme, r.code)
		}
	}
}

func TestPropagationEdgeCases(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	rcs := cs.CoreV1().ReplicationControllers("default")
	// Foreground with no dependents: the owner still goes.
	if _, err := rcs.Create(ctx, newRC("lonely", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	fg := metav1.DeletePropagationForeground
	if err := rcs.Delete(ctx, "lonely", metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "owner without dependents removed", func() (bool, error) {
		_, err := rcs.Get(ctx, "lonely", metav1.GetOptions{})
		return gone(err)
	})
	// The legacy orphanDependents=true means Orphan.
	ownedPods(t, ctx, cs, "legacy", 1)
	yes := true
	if err := rcs.Delete(ctx, "legacy", metav1.DeleteOptions{OrphanDependents: &yes}); err != nil { //nolint:staticcheck // the legacy field is what is tested
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "owner removed and dependent orphaned", func() (bool, error) {
		_, err := rcs.Get(ctx, "legacy", metav1.GetOptions{})
		if ok, err := gone(err); !ok {
			return false, err
		}
		pods := podsOf(t, ctx, cs, "legacy")
		return len(pods) == 1 && len(pods[0].OwnerReferences) == 0, nil
	})
	bad := metav1.DeletionPropagation("Sideways")
	err := rcs.Delete(ctx, "x", metav1.DeleteOptions{PropagationPolicy: &bad})
	wantStatus(t, "unknown propagation policy", err, 400)
}
