package apiserver_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
)

// protobufClient starts a test API server and returns it with a typed client that sends
// protobuf bodies, as the conformance framework's client does.
func protobufClient(t *testing.T) (*apiservertest.Server, kubernetes.Interface) {
	t.Helper()
	srv := apiservertest.Start(t)
	cfg := rest.CopyConfig(srv.Config)
	cfg.ContentType = runtime.ContentTypeProtobuf
	return srv, clientFor(t, cfg)
}

// discoveryHas fails unless the group version lists every one of names.
func discoveryHas(t *testing.T, cs kubernetes.Interface, gv string, names ...string) {
	t.Helper()
	list, err := cs.Discovery().ServerResourcesForGroupVersion(gv)
	if err != nil {
		t.Fatalf("discovery of %s: %v", gv, err)
	}
	have := map[string]bool{}
	for _, r := range list.APIResources {
		have[r.Name] = true
	}
	for _, n := range names {
		if !have[n] {
			t.Errorf("%s does not list %s: %v", gv, n, have)
		}
	}
}

// watchModified waits for a MODIFIED event whose annotations include key (the conformance
// specs' wait for the patch and the update).
func watchModified(t *testing.T, w watch.Interface, key string) {
	t.Helper()
	defer w.Stop()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("watch closed")
			}
			if ev.Type != watch.Modified {
				t.Fatalf("watch event %s, want MODIFIED", ev.Type)
			}
			if m, err := meta.Accessor(ev.Object); err == nil && m.GetAnnotations()[key] == "true" {
				return
			}
		case <-timeout:
			t.Fatalf("no MODIFIED event with annotation %s", key)
		}
	}
}

// TestIngressAPIOperations follows the conformance spec "Ingress API should support creating
// Ingress API operations": discovery, create, get, list and watch (namespaced and cluster-wide)
// by label, merge patch, update, status patch (with an annotation) and update, GET of the
// status subresource, delete and deletecollection; besides, what a status update and a main
// update may change, and validation with field paths.
func TestIngressAPIOperations(t *testing.T) {
	t.Parallel()
	srv, cs := protobufClient(t)
	ctx := testCtx(t)
	discoveryHas(t, cs, "networking.k8s.io/v1", "ingresses", "ingresses/status", "ingressclasses")
	ings := cs.NetworkingV1().Ingresses("default")
	tmpl := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-example-ing", Labels: map[string]string{"special-label": "x"}},
		Spec: networkingv1.IngressSpec{
			DefaultBackend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "default-backend", Port: networkingv1.ServiceBackendPort{Number: 8080}}},
			Rules: []networkingv1.IngressRule{{Host: "foo.bar.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: ptr.To(networkingv1.PathTypeImplementationSpecific),
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "test-backend", Port: networkingv1.ServiceBackendPort{Number: 8080}}}}},
			}}}},
		},
		// A client's status on create is dropped.
		Status: networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{Ingress: []networkingv1.IngressLoadBalancerIngress{{IP: "1.2.3.4"}}}},
	}
	var created *networkingv1.Ingress
	for _, host := range []string{"host1.bar.com", "host2.bar.com", "host3.bar.com"} {
		ing := tmpl.DeepCopy()
		ing.Spec.Rules[0].Host = host
		var err error
		if created, err = ings.Create(ctx, ing, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create: %v", err)
		}
	}
	if len(created.Status.LoadBalancer.Ingress) != 0 || created.Generation != 1 || created.Spec.IngressClassName != nil {
		t.Errorf("created: status %+v, generation %d, class %v", created.Status, created.Generation, created.Spec.IngressClassName)
	}
	got, err := ings.Get(ctx, created.Name, metav1.GetOptions{})
	if err != nil || got.UID != created.UID {
		t.Fatalf("get: %v, %+v", err, got)
	}
	if _, err := ings.Create(ctx, &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "other"}, Spec: tmpl.Spec}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := ings.List(ctx, metav1.ListOptions{LabelSelector: "special-label=x"})
	if err != nil || len(list.Items) != 3 {
		t.Fatalf("list by label: %v, %d items", err, len(list.Items))
	}
	all, err := cs.NetworkingV1().Ingresses("").List(ctx, metav1.ListOptions{LabelSelector: "special-label=x"})
	if err != nil || len(all.Items) != 3 {
		t.Fatalf("cluster-wide list: %v, %d items", err, len(all.Items))
	}
	w, err := ings.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion, LabelSelector: "special-label=x"})
	if err != nil {
		t.Fatal(err)
	}
	cw, err := cs.NetworkingV1().Ingresses("").Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion, LabelSelector: "special-label=x"})
	if err != nil {
		t.Fatal(err)
	}

	patched, err := ings.Patch(ctx, created.Name, types.MergePatchType, []byte(`{"metadata":{"annotations":{"patched":"true"}}}`), metav1.PatchOptions{})
	if err != nil || patched.Annotations["patched"] != "true" {
		t.Fatalf("patch: %v, %v", err, patched)
	}
	upd := patched.DeepCopy()
	upd.Annotations["updated"] = "true"
	upd.Spec.Rules[0].Host = "changed.bar.com"
	upd.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "9.9.9.9"}} // ignored by an update
	updated, err := ings.Update(ctx, upd, metav1.UpdateOptions{})
	if err != nil || updated.Annotations["updated"] != "true" || updated.Generation != 2 || len(updated.Status.LoadBalancer.Ingress) != 0 {
		t.Fatalf("update: %v, %+v", err, updated)
	}
	watchModified(t, w, "updated")
	watchModified(t, cw, "updated")

	lb := networkingv1.IngressLoadBalancerStatus{Ingress: []networkingv1.IngressLoadBalancerIngress{{IP: "169.1.1.1"}}}
	lbJSON, _ := json.Marshal(lb)
	ps, err := ings.Patch(ctx, created.Name, types.MergePatchType,
		[]byte(`{"metadata":{"annotations":{"patchedstatus":"true"}},"spec":{"ingressClassName":"ignored"},"status":{"loadBalancer":`+string(lbJSON)+`}}`),
		metav1.PatchOptions{}, "status")
	if err != nil {
		t.Fatalf("status patch: %v", err)
	}
	if ps.Status.LoadBalancer.Ingress[0].IP != "169.1.1.1" || ps.Annotations["patchedstatus"] != "true" || ps.Spec.IngressClassName != nil || ps.Generation != 2 {
		t.Errorf("status patch: status %+v, annotations %v, class %v, generation %d", ps.Status, ps.Annotations, ps.Spec.IngressClassName, ps.Generation)
	}
	ps.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "169.1.1.2"}}
	us, err := ings.UpdateStatus(ctx, ps, metav1.UpdateOptions{})
	if err != nil || us.Status.LoadBalancer.Ingress[0].IP != "169.1.1.2" {
		t.Fatalf("status update: %v, %+v", err, us)
	}
	us.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{Hostname: "1.2.3.4"}}
	_, err = ings.UpdateStatus(ctx, us, metav1.UpdateOptions{})
	if se := wantStatus(t, "status with an IP as host name", err, http.StatusUnprocessableEntity); !hasCause(se.ErrStatus, "status.loadBalancer.ingress[0].hostname") {
		t.Errorf("causes %+v", se.ErrStatus.Details)
	}
	raw := doRaw(t, srv, "GET", "/apis/networking.k8s.io/v1/namespaces/default/ingresses/"+created.Name+"/status", "", nil)
	var fromStatus networkingv1.Ingress
	if raw.code != http.StatusOK || json.Unmarshal(raw.body, &fromStatus) != nil || fromStatus.UID != created.UID || fromStatus.Kind != "Ingress" {
		t.Errorf("GET status: %d %s", raw.code, raw.body)
	}

	bad := tmpl.DeepCopy()
	bad.Spec.Rules[0].HTTP.Paths[0].PathType = nil
	_, err = ings.Create(ctx, bad, metav1.CreateOptions{})
	if se := wantStatus(t, "path without pathType", err, http.StatusUnprocessableEntity); !hasCause(se.ErrStatus, "spec.rules[0].http.paths[0].pathType") {
		t.Errorf("causes %+v", se.ErrStatus.Details)
	}

	if err := ings.Delete(ctx, created.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ings.Get(ctx, created.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after delete: %v", err)
	}
	if err := ings.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "special-label=x"}); err != nil {
		t.Fatal(err)
	}
	if list, err := ings.List(ctx, metav1.ListOptions{}); err != nil || len(list.Items) != 1 || list.Items[0].Name != "other" {
		t.Errorf("after deletecollection: %v, %+v", err, list)
	}
}

// TestIngressClassAPIOperationsAndDefaultAdmission: IngressClass CRUD as the conformance spec
// does it, controller immutability, and Kubernetes' DefaultIngressClass admission: an Ingress
// created without a class gets the default class (of several, the newest, then the lowest
// name); one naming a class, or the deprecated annotation, keeps it; without a default class
// nothing is set.
func TestIngressClassAPIOperationsAndDefaultAdmission(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	ics := cs.NetworkingV1().IngressClasses()
	ings := cs.NetworkingV1().Ingresses("default")
	newClass := func(name string, isDefault bool) *networkingv1.IngressClass {
		ic := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"special-label": "generic"}},
			Spec: networkingv1.IngressClassSpec{Controller: "example.com/controller"}}
		if isDefault {
			ic.Annotations = map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}
		}
		c, err := ics.Create(ctx, ic, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create class %s: %v", name, err)
		}
		return c
	}
	n := 0
	basic := func(mutate func(*networkingv1.Ingress)) *networkingv1.Ingress {
		n++
		ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "ingress" + string(rune('a'+n))},
			Spec: networkingv1.IngressSpec{DefaultBackend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
				Name: "defaultbackend", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}
		if mutate != nil {
			mutate(ing)
		}
		got, err := ings.Create(ctx, ing, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create ingress: %v", err)
		}
		return got
	}
	class := func(ing *networkingv1.Ingress) string { return ptr.Deref(ing.Spec.IngressClassName, "<nil>") }

	if got := basic(nil); got.Spec.IngressClassName != nil {
		t.Errorf("no classes: class %s", class(got))
	}
	plain := newClass("plain", false)
	if got := basic(nil); got.Spec.IngressClassName != nil {
		t.Errorf("no default class: class %s", class(got))
	}
	newClass("zeta", true)
	if got := basic(nil); class(got) != "zeta" {
		t.Errorf("one default class: class %s, want zeta", class(got))
	}
	if got := basic(func(i *networkingv1.Ingress) { i.Spec.IngressClassName = ptr.To("plain") }); class(got) != "plain" {
		t.Errorf("explicit class: %s", class(got))
	}
	got := basic(func(i *networkingv1.Ingress) {
		i.Annotations = map[string]string{"kubernetes.io/ingress.class": "legacy"}
	})
	if got.Spec.IngressClassName != nil {
		t.Errorf("class annotation: class %s", class(got))
	}
	// A second default: the newer wins; created in the same second, the lower name does.
	alpha := newClass("alpha", true)
	zeta, _ := ics.Get(ctx, "zeta", metav1.GetOptions{})
	want := "alpha" // newer, and lower
	if alpha.CreationTimestamp.Before(&zeta.CreationTimestamp) {
		t.Fatalf("alpha older than zeta: %v %v", alpha.CreationTimestamp, zeta.CreationTimestamp)
	}
	if got := basic(nil); class(got) != want {
		t.Errorf("two default classes: class %s, want %s", class(got), want)
	}
	if _, err := ings.Create(ctx, &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "dry"}, Spec: networkingv1.IngressSpec{
		DefaultBackend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "b", Port: networkingv1.ServiceBackendPort{Number: 80}}}}},
		metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Errorf("dry run: %v", err)
	}

	// The conformance spec's operations on classes.
	list, err := ics.List(ctx, metav1.ListOptions{LabelSelector: "special-label=generic"})
	if err != nil || len(list.Items) != 3 {
		t.Fatalf("list by label: %v, %d", err, len(list.Items))
	}
	w, err := ics.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion, LabelSelector: "special-label=generic"})
	if err != nil {
		t.Fatal(err)
	}
	patched, err := ics.Patch(ctx, plain.Name, types.MergePatchType, []byte(`{"metadata":{"annotations":{"patched":"true"}}}`), metav1.PatchOptions{})
	if err != nil || patched.Annotations["patched"] != "true" {
		t.Fatalf("patch: %v", err)
	}
	patched.Annotations["updated"] = "true"
	if _, err := ics.Update(ctx, patched, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update: %v", err)
	}
	watchModified(t, w, "updated")
	_, err = ics.Patch(ctx, plain.Name, types.MergePatchType, []byte(`{"spec":{"controller":"example.com/other"}}`), metav1.PatchOptions{})
	if se := wantStatus(t, "controller change", err, http.StatusUnprocessableEntity); !hasCause(se.ErrStatus, "spec.controller") {
		t.Errorf("causes %+v", se.ErrStatus.Details)
	}
	if err := ics.Delete(ctx, plain.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := ics.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "special-label=generic"}); err != nil {
		t.Fatal(err)
	}
	if list, err := ics.List(ctx, metav1.ListOptions{}); err != nil || len(list.Items) != 0 {
		t.Errorf("after deletecollection: %v, %+v", err, list)
	}
	if got := basic(nil); got.Spec.IngressClassName != nil {
		t.Errorf("default classes deleted: class %s", class(got))
	}
}
