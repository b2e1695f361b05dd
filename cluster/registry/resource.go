// Package registry describes every API resource drover serves: its names, its Go types (from
// k8s.io/api), and its strategy — defaults, validation, what create and update may change, the
// fields selectors can use and the columns `kubectl get` shows. The API server is generic over
// these descriptors.
package registry

import (
	"fmt"
	"sort"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Resource describes one API resource. Funcs left nil do nothing (or accept everything).
type Resource struct {
	Group        string // "" for the core group
	Version      string // "v1"
	Resource     string // plural, lower case: "pods"
	Kind         string // "Pod"
	ListKind     string // "PodList"
	SingularName string // "pod"
	ShortNames   []string
	Categories   []string // e.g. "all"
	Namespaced   bool
	// Subresources served besides the main resource: "status", "scale", "binding", "log".
	Subresources []string
	// HasStatus: updates of the main resource keep the stored status, and status updates keep
	// everything but status (and labels/annotations are kept by both, as in Kubernetes).
	HasStatus bool

	New     func() runtime.Object // empty typed object, e.g. &corev1.Pod{}
	NewList func() runtime.Object // empty typed list, e.g. &corev1.PodList{}

	// NameValidation checks metadata.name (and generateName with prefix=true); nil means
	// DNS-1123 subdomain, as for most Kubernetes resources.
	NameValidation func(name string, prefix bool) []string
	// Default fills Kubernetes defaults in place; run on every create and update body.
	Default func(obj runtime.Object)
	// PrepareForCreate resets what a client may not set on create (e.g. status).
	PrepareForCreate func(obj runtime.Object)
	// PrepareForUpdate copies from old what a client may not change with this update.
	PrepareForUpdate func(obj, old runtime.Object)
	// Validate checks a new object (spec and status as the resource rules say).
	Validate func(obj runtime.Object) field.ErrorList
	// ValidateUpdate checks an update of the main resource (immutable fields and the rest).
	ValidateUpdate func(obj, old runtime.Object) field.ErrorList
	// ValidateStatusUpdate checks an update through the status subresource.
	ValidateStatusUpdate func(obj, old runtime.Object) field.ErrorList
	// Fields returns the resource-specific selectable fields (e.g. spec.nodeName, status.phase);
	// the server adds metadata.name and metadata.namespace itself.
	Fields func(obj runtime.Object) fields.Set
	// Table converts objects for `kubectl get`; nil gives NAME and AGE.
	Table *Table
}

// Table is the server-side printing of a resource: column definitions and one row per object.
// Row returns one cell per column, in order; cells are strings, int64s, bools or nil.
type Table struct {
	Columns []metav1.TableColumnDefinition
	Row     func(obj runtime.Object) ([]interface{}, error)
}

// GroupVersion returns the resource's group and version.
func (r *Resource) GroupVersion() schema.GroupVersion {
	return schema.GroupVersion{Group: r.Group, Version: r.Version}
}

// GroupVersionResource returns group, version and plural name.
func (r *Resource) GroupVersionResource() schema.GroupVersionResource {
	return r.GroupVersion().WithResource(r.Resource)
}

// GroupVersionKind returns group, version and kind.
func (r *Resource) GroupVersionKind() schema.GroupVersionKind {
	return r.GroupVersion().WithKind(r.Kind)
}

// HasSubresource reports whether sub is served for this resource.
func (r *Resource) HasSubresource(sub string) bool {
	for _, s := range r.Subresources {
		if s == sub {
			return true
		}
	}
	return false
}

var (
	mu        sync.RWMutex
	resources = map[schema.GroupVersionResource]*Resource{}
	tables    = map[schema.GroupResource]*Table{}
)

// Register adds a resource; each resource file calls it from init. Registering one twice panics.
func Register(r *Resource) {
	mu.Lock()
	defer mu.Unlock()
	gvr := r.GroupVersionResource()
	if _, ok := resources[gvr]; ok {
		panic(fmt.Sprintf("registry: %s registered twice", gvr))
	}
	if r.ListKind == "" {
		r.ListKind = r.Kind + "List"
	}
	resources[gvr] = r
}

// RegisterTable sets the Table of a resource; table files call it from init, so that printing
// and strategy can live in separate files.
func RegisterTable(gr schema.GroupResource, t *Table) {
	mu.Lock()
	defer mu.Unlock()
	tables[gr] = t
}

// Lookup returns the resource for group, version and plural name.
func Lookup(gvr schema.GroupVersionResource) (*Resource, bool) {
	mu.RLock()
	defer mu.RUnlock()
	r, ok := resources[gvr]
	if ok && r.Table == nil {
		r.Table = tables[gvr.GroupResource()]
	}
	return r, ok
}

// All returns every registered resource, sorted by group, version and plural name.
func All() []*Resource {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]*Resource, 0, len(resources))
	for gvr, r := range resources {
		if r.Table == nil {
			r.Table = tables[gvr.GroupResource()]
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Resource < b.Resource
	})
	return out
}
