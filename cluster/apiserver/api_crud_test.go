package apiserver_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCreateSetsServerFields(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	pod, err := cs.CoreV1().Pods("default").Create(ctx, newPod("web", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod: %v", err)
	}
	if pod.UID == "" || pod.CreationTimestamp.IsZero() || pod.ResourceVersion == "" {
		t.Fatalf("create did not set uid/creationTimestamp/resourceVersion: %+v", pod.ObjectMeta)
	}
	if pod.Generation != 1 {
		t.Errorf("generation = %d, want 1", pod.Generation)
	}
	if pod.Namespace != "default" {
		t.Errorf("namespace = %q, want default", pod.Namespace)
	}
	got, err := cs.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if diff := cmp.Diff(pod.ObjectMeta, got.ObjectMeta); diff != "" {
		t.Errorf("get differs from create answer (-create +get):\n%s", diff)
	}
	other, err := cs.CoreV1().Pods("default").Create(ctx, newPod("web2", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if other.UID == pod.UID {
		t.Errorf("two pods share uid %s", pod.UID)
	}
	if rv(t, other.ResourceVersion) <= rv(t, pod.ResourceVersion) {
		t.Errorf("resourceVersion did not increase: %s then %s", pod.ResourceVersion, other.ResourceVersion)
	}
}

func TestCRUDEachKind(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	core := cs.CoreV1()

	if _, err := core.Pods("default").Create(ctx, newPod("p", nil), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod: %v", err)
	}
	if _, err := core.ReplicationControllers("default").Create(ctx, newRC("rc", 2), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create rc: %v", err)
	}
	if _, err := core.Services("default").Create(ctx, newService("svc"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create service: %v", err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}, Data: map[string]string{"k": "v1"}}
	if _, err := core.ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create configmap: %v", err)
	}
	if _, err := core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}

	// list
	pods, err := core.Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil || len(pods.Items) != 1 || pods.Items[0].Name != "p" {
		t.Fatalf("list pods = %v, %v; want [p]", names(pods), err)
	}
	rcs, err := core.ReplicationControllers("").List(ctx, metav1.ListOptions{})
	if err != nil || len(rcs.Items) != 1 {
		t.Fatalf("list rcs across namespaces: %v, %d items", err, len(rcs.Items))
	}
	nss, err := core.Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var nsNames []string
	for _, n := range nss.Items {
		nsNames = append(nsNames, n.Name)
	}
	for _, want := range []string{"default", "kube-system", "team"} {
		if !strings.Contains(strings.Join(nsNames, ","), want) {
			t.Errorf("namespaces %v lack %s", nsNames, want)
		}
	}

	// update
	got, _ := core.ConfigMaps("default").Get(ctx, "cm", metav1.GetOptions{})
	got.Data["k"] = "v2"
	upd, err := core.ConfigMaps("default").Update(ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update configmap: %v", err)
	}
	if upd.Data["k"] != "v2" || rv(t, upd.ResourceVersion) <= rv(t, got.ResourceVersion) {
		t.Errorf("update: data %v rv %s→%s", upd.Data, got.ResourceVersion, upd.ResourceVersion)
	}
	svc, _ := core.Services("default").Get(ctx, "svc", metav1.GetOptions{})
	svc.Labels = map[string]string{"tier": "front"}
	if _, err := core.Services("default").Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update service: %v", err)
	}

	// delete
	for name, del := range map[string]func() error{
		"pod":       func() error { return core.Pods("default").Delete(ctx, "p", metav1.DeleteOptions{}) },
		"rc":        func() error { return core.ReplicationControllers("default").Delete(ctx, "rc", metav1.DeleteOptions{}) },
		"service":   func() error { return core.Services("default").Delete(ctx, "svc", metav1.DeleteOptions{}) },
		"configmap": func() error { return core.ConfigMaps("default").Delete(ctx, "cm", metav1.DeleteOptions{}) },
	} {
		if err := del(); err != nil {
			t.Errorf("delete %s: %v", name, err)
		}
	}
	if _, err := core.Pods("default").Get(ctx, "p", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get deleted pod: %v, want NotFound", err)
	}
	if _, err := core.ConfigMaps("default").Get(ctx, "cm", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get deleted configmap: %v, want NotFound", err)
	}
	if err := core.ConfigMaps("default").Delete(ctx, "cm", metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("second delete: %v, want NotFound", err)
	}
}

func TestGenerationBumpsOnSpecChangeOnly(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	rcs := cs.CoreV1().ReplicationControllers("default")
	rc, err := rcs.Create(ctx, newRC("gen", 1), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rc.Generation != 1 {
		t.Fatalf("generation after create = %d", rc.Generation)
	}
	rc.Labels["extra"] = "x"
	rc, err = rcs.Update(ctx, rc, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rc.Generation != 1 {
		t.Errorf("label change bumped generation to %d", rc.Generation)
	}
	three := int32(3)
	rc.Spec.Replicas = &three
	rc, err = rcs.Update(ctx, rc, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rc.Generation != 2 {
		t.Errorf("spec change: generation = %d, want 2", rc.Generation)
	}
	rc.Generation = 7 // clients cannot set it
	rc, err = rcs.Update(ctx, rc, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rc.Generation != 2 {
		t.Errorf("client-set generation kept: %d, want 2", rc.Generation)
	}
}

func TestNoOpUpdateKeepsResourceVersion(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	pod, err := cs.CoreV1().Pods("default").Create(ctx, newPod("same", map[string]string{"a": "b"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	again, err := cs.CoreV1().Pods("default").Update(ctx, pod, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again.ResourceVersion != pod.ResourceVersion {
		t.Errorf("no-op update changed resourceVersion %s → %s", pod.ResourceVersion, again.ResourceVersion)
	}
}

func TestGenerateName(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		p := newPod("", nil)
		p.GenerateName = "worker-"
		got, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(got.Name, "worker-") || len(got.Name) != len("worker-")+5 {
			t.Errorf("generated name %q", got.Name)
		}
		if seen[got.Name] {
			t.Errorf("generated name %q twice", got.Name)
		}
		seen[got.Name] = true
	}
	list, _ := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if len(list.Items) != 3 {
		t.Errorf("stored %d pods, want 3", len(list.Items))
	}
}

func TestAlreadyExists(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	first, err := cs.CoreV1().Pods("default").Create(ctx, newPod("dup", map[string]string{"v": "1"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.CoreV1().Pods("default").Create(ctx, newPod("dup", map[string]string{"v": "2"}), metav1.CreateOptions{})
	wantStatus(t, "second create", err, 409)
	if !apierrors.IsAlreadyExists(err) {
		t.Errorf("reason: %v, want AlreadyExists", err)
	}
	got, _ := cs.CoreV1().Pods("default").Get(ctx, "dup", metav1.GetOptions{})
	if got.Labels["v"] != "1" || got.UID != first.UID {
		t.Errorf("the failed create changed the pod: %v", got.ObjectMeta)
	}
}

func TestStaleResourceVersionConflicts(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	cms := cs.CoreV1().ConfigMaps("default")
	v1, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Data: map[string]string{"k": "1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v2 := v1.DeepCopy()
	v2.Data["k"] = "2"
	v2, err = cms.Update(ctx, v2, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stale := v1.DeepCopy()
	stale.Data["k"] = "stale"
	_, err = cms.Update(ctx, stale, metav1.UpdateOptions{})
	wantStatus(t, "stale update", err, 409)
	if !apierrors.IsConflict(err) {
		t.Errorf("reason: %v, want Conflict", err)
	}
	got, _ := cms.Get(ctx, "c", metav1.GetOptions{})
	if got.Data["k"] != "2" || got.ResourceVersion != v2.ResourceVersion {
		t.Errorf("stale update changed the object: data %v rv %s (want 2, %s)", got.Data, got.ResourceVersion, v2.ResourceVersion)
	}

	// Without a resourceVersion the update is unconditional.
	blind := v1.DeepCopy()
	blind.ResourceVersion = ""
	blind.Data["k"] = "3"
	if _, err := cms.Update(ctx, blind, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("PUT without resourceVersion: %v", err)
	}
	got, _ = cms.Get(ctx, "c", metav1.GetOptions{})
	if got.Data["k"] != "3" {
		t.Errorf("data after unconditional update = %v", got.Data)
	}
}

func TestCreateInMissingNamespace(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	_, err := cs.CoreV1().Pods("nowhere").Create(ctx, newPod("p", nil), metav1.CreateOptions{})
	wantStatus(t, "create in missing namespace", err, 404)
	list, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 0 {
		t.Errorf("pods after refused create: %v, %v", names(list), err)
	}
}

func TestUpdateMissingObjectIsNotFound(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	p := newPod("ghost", nil)
	p.Namespace = "default"
	_, err := cs.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{})
	wantStatus(t, "update of a missing pod", err, 404)
}

func rv(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("resourceVersion %q is not an integer", s)
	}
	return n
}

func names(list *corev1.PodList) []string {
	if list == nil {
		return nil
	}
	var out []string
	for _, p := range list.Items {
		out = append(out, p.Namespace+"/"+p.Name)
	}
	return out
}
