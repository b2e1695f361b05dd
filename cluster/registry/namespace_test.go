package registry

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestCoreResourcesRegistered(t *testing.T) {
	tests := []struct {
		gvr        schema.GroupVersionResource
		short      []string
		namespaced bool
		subs       []string
	}{
		{corev1.SchemeGroupVersion.WithResource("namespaces"), []string{"ns"}, false, []string{"status", "finalize"}},
		{corev1.SchemeGroupVersion.WithResource("services"), []string{"svc"}, true, []string{"status", "proxy"}},
		{corev1.SchemeGroupVersion.WithResource("endpoints"), []string{"ep"}, true, nil},
		{corev1.SchemeGroupVersion.WithResource("nodes"), []string{"no"}, false, []string{"status"}},
		{corev1.SchemeGroupVersion.WithResource("persistentvolumes"), []string{"pv"}, false, []string{"status"}},
		{corev1.SchemeGroupVersion.WithResource("persistentvolumeclaims"), []string{"pvc"}, true, []string{"status"}},
		{corev1.SchemeGroupVersion.WithResource("secrets"), nil, true, nil},
		{corev1.SchemeGroupVersion.WithResource("configmaps"), []string{"cm"}, true, nil},
		{corev1.SchemeGroupVersion.WithResource("events"), []string{"ev"}, true, nil},
		{corev1.SchemeGroupVersion.WithResource("serviceaccounts"), []string{"sa"}, true, []string{"token"}},
		{schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}, nil, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.gvr.Resource, func(t *testing.T) {
			r, ok := lookup(tt.gvr)
			if !ok {
				t.Fatalf("%v not registered", tt.gvr)
			}
			if diff := cmp.Diff(tt.short, r.ShortNames); diff != "" {
				t.Errorf("short names (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.subs, r.Subresources); diff != "" {
				t.Errorf("subresources (-want +got):\n%s", diff)
			}
			if r.Namespaced != tt.namespaced || r.HasStatus != slices.Contains(tt.subs, "status") {
				t.Errorf("namespaced %v hasStatus %v", r.Namespaced, r.HasStatus)
			}
			obj, list := r.New(), r.NewList()
			if obj == nil || list == nil || r.Table == nil || r.Table.Columns[0].Name == "" {
				t.Fatalf("New/NewList/Table missing")
			}
			if r.ListKind != r.Kind+"List" {
				t.Errorf("list kind %q", r.ListKind)
			}
		})
	}
}

func TestNamespaceNameValidation(t *testing.T) {
	r, _ := lookup(corev1.SchemeGroupVersion.WithResource("namespaces"))
	if msgs := r.NameValidation("kube-system", false); len(msgs) != 0 {
		t.Errorf("kube-system rejected: %v", msgs)
	}
	if msgs := r.NameValidation("a.b", false); len(msgs) == 0 {
		t.Error("a.b accepted as a namespace name (must be a DNS-1123 label)")
	}
	svc, _ := lookup(corev1.SchemeGroupVersion.WithResource("services"))
	if msgs := svc.NameValidation("1abc", false); len(msgs) == 0 {
		t.Error("1abc accepted as a service name (must be a DNS-1035 label)")
	}
}

func TestNamespaceCreateAndUpdate(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ci"}}
	nsDefault(ns)
	nsPrepareForCreate(ns)
	if ns.Status.Phase != corev1.NamespaceActive {
		t.Errorf("phase = %q, want Active", ns.Status.Phase)
	}
	if diff := cmp.Diff([]corev1.FinalizerName{"kubernetes"}, ns.Spec.Finalizers); diff != "" {
		t.Errorf("finalizers (-want +got):\n%s", diff)
	}
	if ns.Labels[nsNameLabel] != "ci" {
		t.Errorf("labels = %v", ns.Labels)
	}
	upd := ns.DeepCopy()
	upd.Spec.Finalizers = nil
	upd.Status.Phase = corev1.NamespaceTerminating
	nsPrepareForUpdate(upd, ns)
	if len(upd.Spec.Finalizers) != 1 || upd.Status.Phase != corev1.NamespaceActive {
		t.Errorf("update changed finalizers/status: %+v", upd)
	}
	r, _ := lookup(corev1.SchemeGroupVersion.WithResource("namespaces"))
	if diff := cmp.Diff(map[string]string{"status.phase": "Active"}, map[string]string(r.Fields(ns))); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
}

func TestNamespaceValidate(t *testing.T) {
	now := metav1.Now()
	tests := []struct {
		name   string
		ns     corev1.Namespace
		status bool
		want   []string
	}{
		{"ok", corev1.Namespace{Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"kubernetes"}}}, false, nil},
		{"bad finalizer", corev1.Namespace{Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"a/b/c"}}}, false,
			[]string{`spec.finalizers[0]: Invalid value: "a/b/c": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`}},
		{"terminating without deletion", corev1.Namespace{Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}, true,
			[]string{"status.phase: Invalid value: \"Terminating\": may only be 'Active' if `deletionTimestamp` is empty"}},
		{"active while deleting", corev1.Namespace{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now},
			Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}, true,
			[]string{"status.phase: Invalid value: \"Active\": may only be 'Terminating' if `deletionTimestamp` is not empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := nsValidate(&tt.ns)
			if tt.status {
				errs = nsValidateStatus(&tt.ns)
			}
			if diff := cmp.Diff(tt.want, metaErrStrings(errs)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNamespaceTable(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Status: corev1.NamespaceStatus{Phase: "Active"}}
	got, err := nsTable().Row(ns)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]interface{}{"default", "Active", "<unknown>"}, got); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
	if _, err := nsTable().Row(&corev1.Pod{}); err == nil {
		t.Error("a pod printed as a namespace")
	}
}
