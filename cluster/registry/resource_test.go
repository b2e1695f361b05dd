package registry

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// lookup finds a resource in the full list.
func lookup(gvr schema.GroupVersionResource) (*Resource, bool) {
	return Resources().Lookup(gvr)
}

func TestResourcesSortedWithTables(t *testing.T) {
	all := Resources().All()
	if len(all) != 58 {
		t.Errorf("%d resources, want 58", len(all))
	}
	for i, r := range all {
		if r.Table == nil && r.Group != AuthenticationGroup && r.Group != AuthorizationGroup { // the reviews are only created
			t.Errorf("%s has no table", r.GroupVersionResource())
		}
		if r.HasSubresource("scale") != (r.Scale != nil) {
			t.Errorf("%s: scale subresource %v, Scale hook %v", r.GroupVersionResource(), r.HasSubresource("scale"), r.Scale != nil)
		}
		if r.ListKind != r.Kind+"List" {
			t.Errorf("%s: list kind %q", r.GroupVersionResource(), r.ListKind)
		}
		if i == 0 {
			continue
		}
		a, b := all[i-1], r
		ordered := a.Group < b.Group || a.Group == b.Group && (a.Version < b.Version || a.Version == b.Version && a.Resource < b.Resource)
		if !ordered {
			t.Errorf("%s before %s", a.GroupVersionResource(), b.GroupVersionResource())
		}
	}
}

func TestResourcesAreIndependent(t *testing.T) {
	gvr := corev1.SchemeGroupVersion.WithResource("pods")
	a, _ := Resources().Lookup(gvr)
	b, _ := Resources().Lookup(gvr)
	if a == nil || b == nil || a == b || a.Table == b.Table {
		t.Fatalf("two Resources() calls share descriptors: %p %p", a, b)
	}
}

func TestNewSetCopiesAndRejectsDuplicates(t *testing.T) {
	in := &Resource{Version: "v1", Resource: "widgets", Kind: "Widget"}
	s := NewSet(in)
	got, ok := s.Lookup(schema.GroupVersionResource{Version: "v1", Resource: "widgets"})
	if !ok || got == in || got.ListKind != "WidgetList" || in.ListKind != "" {
		t.Errorf("Lookup = %+v, %v (input %+v)", got, ok, in)
	}
	if _, ok := s.Lookup(schema.GroupVersionResource{Version: "v1", Resource: "pods"}); ok {
		t.Error("found pods in a set without them")
	}
	defer func() {
		if recover() == nil {
			t.Error("NewSet accepted a duplicate")
		}
	}()
	NewSet(in, &Resource{Version: "v1", Resource: "widgets", Kind: "Gadget"})
}
