package apiserver_test

import (
	"net/http"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestListSelectors(t *testing.T) {
	t.Parallel()
	srv, cs := startClient(t)
	ctx := testCtx(t)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "other"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mk := func(ns, name, app, node string, phase corev1.PodPhase) {
		t.Helper()
		p := newPod(name, map[string]string{"app": app})
		p.Spec.NodeName = node
		got, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create %s/%s: %v", ns, name, err)
		}
		if phase != "" {
			got.Status.Phase = phase
			if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
				t.Fatalf("status of %s: %v", name, err)
			}
		}
	}
	mk("default", "a1", "a", "node1", corev1.PodRunning)
	mk("default", "a2", "a", "node2", "")
	mk("default", "b1", "b", "node1", corev1.PodSucceeded)
	mk("other", "a3", "a", "", "")

	cases := []struct {
		ns, labels, fields string
		want               []string
	}{
		{"", "app=a", "", []string{"default/a1", "default/a2", "other/a3"}},
		{"default", "app=a", "", []string{"default/a1", "default/a2"}},
		{"", "app!=a", "", []string{"default/b1"}},
		{"", "app in (a,b),app notin (b)", "", []string{"default/a1", "default/a2", "other/a3"}},
		{"", "", "metadata.name=a2", []string{"default/a2"}},
		{"", "", "metadata.namespace=other", []string{"other/a3"}},
		{"", "", "spec.nodeName=node1", []string{"default/a1", "default/b1"}},
		{"", "", "spec.nodeName=", []string{"other/a3"}},
		{"", "", "status.phase=Running", []string{"default/a1"}},
		{"", "", "status.phase!=Pending", []string{"default/a1", "default/b1"}},
		{"", "app=a", "spec.nodeName=node1", []string{"default/a1"}},
		{"", "app=zzz", "", nil},
	}
	for _, c := range cases {
		list, err := cs.CoreV1().Pods(c.ns).List(ctx, metav1.ListOptions{LabelSelector: c.labels, FieldSelector: c.fields})
		if err != nil {
			t.Errorf("list ns=%q l=%q f=%q: %v", c.ns, c.labels, c.fields, err)
			continue
		}
		got := names(list)
		sort.Strings(got)
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("list ns=%q l=%q f=%q (-want +got):\n%s", c.ns, c.labels, c.fields, diff)
		}
	}

	_, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.image=busybox"})
	wantStatus(t, "unsupported field selector", err, http.StatusBadRequest)
	_, err = cs.CoreV1().ConfigMaps("").List(ctx, metav1.ListOptions{FieldSelector: "status.phase=Running"})
	wantStatus(t, "field selector of another resource", err, http.StatusBadRequest)
	r := doRaw(t, srv, http.MethodGet, "/api/v1/pods?labelSelector=a%3D%3D%3Db", "", nil)
	if r.code != http.StatusBadRequest {
		t.Errorf("malformed label selector: %d %s", r.code, r.body)
	}
}

func TestNamespaceFieldSelectorOnNamespaces(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	list, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=kube-system"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != "kube-system" {
		t.Errorf("namespaces named kube-system: %d items", len(list.Items))
	}
	list, err = cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{FieldSelector: "status.phase=Active"})
	if err != nil || len(list.Items) < 2 {
		t.Errorf("active namespaces: %v, %d items", err, len(list.Items))
	}
}
