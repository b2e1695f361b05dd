// Package registry describes every API resource drover serves: its names, its Go types (from
// k8s.io/api), and its strategy — defaults, validation, what create and update may change, the
// fields selectors can use and the columns `kubectl get` shows. The API server is generic over
// these descriptors.
package registry

import (
	"fmt"
	"sort"
	"sync/atomic"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/user"
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
	// Subresources served besides the main resource: "status", "scale", "binding", "log", and
	// the connect subresources "exec", "attach", "portforward", "proxy".
	Subresources []string
	// Verbs, when set, are the only verbs served, and the resource is not stored: the API
	// server computes it (ReadOnlyVerbs, metrics.k8s.io). nil: every verb of a stored resource.
	Verbs []string
	// HasStatus: updates of the main resource keep the stored status, and status updates keep
	// everything but status and metadata (a status update or patch may change labels,
	// annotations, finalizers and ownerReferences, as Kubernetes' status strategies only
	// reset the spec; PrepareForSubresourceUpdate keeps more where a resource's does).
	HasStatus bool
	// StatusKeepsLabels: a status update keeps the stored labels (Kubernetes'
	// deploymentStatusStrategy).
	StatusKeepsLabels bool
	// KeepsGeneration: updates never bump metadata.generation, as Kubernetes' strategies of
	// events and priority classes leave it alone (by default a change outside metadata and
	// status bumps it).
	KeepsGeneration bool

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
	// Requestor, when set, records the authenticated user on a new object (u may be nil),
	// as CertificateSigningRequest's spec.username, groups, uid and extra.
	Requestor func(obj runtime.Object, u user.Info)
	// PrepareForSubresourceUpdate copies from old what an update through an updatable
	// subresource other than the main resource ("status", "approval") may not change.
	PrepareForSubresourceUpdate func(sub string, obj, old runtime.Object)
	// ValidateSubresourceUpdate checks an update through a subresource other than status
	// (certificatesigningrequests/approval).
	ValidateSubresourceUpdate func(sub string, obj, old runtime.Object) field.ErrorList
	// Prune, when set, removes from a decoded object the fields its schema does not know
	// (custom resources: structural pruning, metadata included) and returns their paths
	// ("spec.foo", "metadata.bar"), which the server reports as unknown fields as
	// fieldValidation says; malformed metadata is an error (the request's: 400).
	Prune func(obj runtime.Object) ([]string, error)
	// Custom marks a custom resource (served from a CustomResourceDefinition): its objects
	// are *unstructured.Unstructured and its lists *unstructured.UnstructuredList.
	Custom bool
	// CRD is the CustomResourceDefinition a custom resource is served from (shared, read
	// only): its OpenAPI documents are built from it.
	CRD *apiextensionsv1.CustomResourceDefinition
	// Fields returns the resource-specific selectable fields (e.g. spec.nodeName, status.phase);
	// the server adds metadata.name and metadata.namespace itself.
	Fields func(obj runtime.Object) fields.Set
	// Table converts objects for `kubectl get`; nil gives NAME and AGE.
	Table *Table
	// Scale serves the scale subresource (list "scale" in Subresources too).
	Scale *Scale
	// Storage, when set, makes this resource a view of another version of the same resource
	// (same plural name, in the same group or, as events.k8s.io/v1 events are of core/v1
	// ones, in another: the store keys are the stored group's, StorageGroupResource): objects
	// are stored in that version and converted on the way in and out, as Kubernetes serves
	// several versions of one resource from one storage version.
	Storage *Storage
}

// Storage converts between a resource's version and the version its objects are stored in.
type Storage struct {
	Kind        schema.GroupVersionKind // the stored group, version and kind
	New         func() runtime.Object   // an empty stored object
	ToStorage   func(obj runtime.Object) (runtime.Object, error)
	FromStorage func(stored runtime.Object) (runtime.Object, error)
}

// Scale maps a resource to the autoscaling/v1 Scale that `kubectl scale` and the
// HorizontalPodAutoscaler read and write.
type Scale struct {
	// Get returns spec.replicas, status.replicas and status.selector (the label selector in
	// its string form, e.g. "app=web").
	Get func(obj runtime.Object) (spec, status int32, selector string)
	// Set sets spec.replicas.
	Set func(obj runtime.Object, replicas int32)
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

// StorageGroupResource is the group and plural name whose store keys hold the resource's
// objects: its own, or for a view (Storage) the stored version's group. Resources with the
// same StorageGroupResource are one resource served in several versions (equivalent for
// admission webhooks' matchPolicy, as kube-apiserver's resources sharing a storage prefix).
func (r *Resource) StorageGroupResource() schema.GroupResource {
	if r.Storage != nil {
		return schema.GroupResource{Group: r.Storage.Kind.Group, Resource: r.Resource}
	}
	return schema.GroupResource{Group: r.Group, Resource: r.Resource}
}

// Stored reports whether the resource lives in the store (every resource but the computed
// ones, which set Verbs).
func (r *Resource) Stored() bool { return r.Verbs == nil }

// HasSubresource reports whether sub is served for this resource.
func (r *Resource) HasSubresource(sub string) bool {
	for _, s := range r.Subresources {
		if s == sub {
			return true
		}
	}
	return false
}

// Resources returns every resource drover serves, as one new Set: each call builds its own
// descriptors, so no two servers share (or race on) them.
func Resources() *Set {
	return NewSet(
		// core/v1
		cmResource(),
		epResource(),
		eventResource(),
		lrResource(),
		nsResource(),
		nodeResource(),
		pvcResource(),
		pvResource(),
		podResource(),
		podTemplateResource(),
		rcResource(),
		rqResource(),
		secretResource(),
		saResource(),
		svcResource(),
		// admissionregistration.k8s.io/v1
		mutatingWebhookConfigurationResource(),
		validatingAdmissionPolicyResource(),
		validatingAdmissionPolicyBindingResource(),
		validatingWebhookConfigurationResource(),
		// apiextensions.k8s.io/v1
		crdResource(),
		// apiregistration.k8s.io/v1
		apiServiceResource(),
		// apps/v1
		crResource(),
		dsResource(),
		deploymentResource(),
		rsResource(),
		stsResource(),
		// authentication.k8s.io/v1 (computed, not stored)
		selfSubjectReviewResource(),
		tokenReviewResource(),
		// authorization.k8s.io/v1 (computed, not stored)
		localSubjectAccessReviewResource(),
		selfSubjectAccessReviewResource(),
		selfSubjectRulesReviewResource(),
		subjectAccessReviewResource(),
		// autoscaling/v1, v2
		hpaV1Resource(),
		hpaResource(),
		// batch/v1
		cjResource(),
		jobResource(),
		// certificates.k8s.io/v1
		csrResource(),
		// coordination.k8s.io/v1
		leaseResource(),
		// discovery.k8s.io/v1
		endpointSliceResource(),
		// events.k8s.io/v1 (a view of the core/v1 events)
		eventsV1Resource(),
		// flowcontrol.apiserver.k8s.io/v1 (stored and served; requests are not classified by them)
		flowSchemaResource(),
		plcResource(),
		// metrics.k8s.io/v1beta1 (computed, not stored)
		nodeMetricsResource(),
		podMetricsResource(),
		// networking.k8s.io/v1
		ingressClassResource(),
		ingressResource(),
		// node.k8s.io/v1
		runtimeClassResource(),
		// policy/v1
		pdbResource(),
		// rbac.authorization.k8s.io/v1
		clusterRoleBindingResource(),
		clusterRoleResource(),
		roleBindingResource(),
		roleResource(),
		// scheduling.k8s.io/v1
		priorityClassResource(),
		// storage.k8s.io/v1
		csiDriverResource(),
		csiNodeResource(),
		csiStorageCapacityResource(),
		storageClassResource(),
		volumeAttachmentResource(),
	)
}

// Set is a collection of resources, indexed by group, version and plural name: the fixed
// built-in ones given to NewSet, and the custom resources the CustomResourceDefinitions define,
// replaced as a whole by SetCustom. Any number of goroutines may read it while one replaces the
// custom resources.
type Set struct {
	byGVR  map[schema.GroupVersionResource]*Resource
	sorted []*Resource
	custom atomic.Pointer[customSet]
	// generation counts the SetCustom calls.
	generation atomic.Uint64
}

// Generation changes each time the custom resources are replaced.
func (s *Set) Generation() uint64 { return s.generation.Load() }

// customSet is one generation of custom resources.
type customSet struct {
	byGVR  map[schema.GroupVersionResource]*Resource
	sorted []*Resource
}

// NewSet indexes rs. It copies each descriptor (filling ListKind as Kind+"List" when empty)
// and panics when two describe the same group, version and resource: that is a programming
// error in the list, like a bad regexp.MustCompile.
func NewSet(rs ...*Resource) *Set {
	s := &Set{byGVR: make(map[schema.GroupVersionResource]*Resource, len(rs))}
	for _, r := range rs {
		c := *r
		if c.ListKind == "" {
			c.ListKind = c.Kind + "List"
		}
		gvr := c.GroupVersionResource()
		if _, ok := s.byGVR[gvr]; ok {
			panic(fmt.Sprintf("registry: %s listed twice", gvr))
		}
		s.byGVR[gvr] = &c
		s.sorted = append(s.sorted, &c)
	}
	sortResources(s.sorted)
	return s
}

func sortResources(rs []*Resource) {
	sort.Slice(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Resource < b.Resource
	})
}

// Lookup returns the resource for group, version and plural name: a built-in one, or else a
// custom one.
func (s *Set) Lookup(gvr schema.GroupVersionResource) (*Resource, bool) {
	if r, ok := s.byGVR[gvr]; ok {
		return r, true
	}
	if c := s.custom.Load(); c != nil {
		r, ok := c.byGVR[gvr]
		return r, ok
	}
	return nil, false
}

// All returns every resource of the set, sorted by group, version and plural name, the
// built-in ones first. The slice is the caller's; the descriptors are shared and must not be
// modified.
func (s *Set) All() []*Resource {
	all := append([]*Resource(nil), s.sorted...)
	if c := s.custom.Load(); c != nil {
		all = append(all, c.sorted...)
	}
	return all
}

// Custom returns the custom resources, sorted as All sorts.
func (s *Set) Custom() []*Resource {
	if c := s.custom.Load(); c != nil {
		return append([]*Resource(nil), c.sorted...)
	}
	return nil
}

// SetCustom replaces the custom resources with rs. A resource with the group, version and
// plural name of a built-in one is left out (the built-in one is served), as is a second
// resource with the same group, version and plural name; their names are returned.
func (s *Set) SetCustom(rs []*Resource) (shadowed []string) {
	c := &customSet{byGVR: make(map[schema.GroupVersionResource]*Resource, len(rs))}
	for _, r := range rs {
		cp := *r
		if cp.ListKind == "" {
			cp.ListKind = cp.Kind + "List"
		}
		gvr := cp.GroupVersionResource()
		if _, ok := s.byGVR[gvr]; ok {
			shadowed = append(shadowed, gvr.String())
			continue
		}
		if _, ok := c.byGVR[gvr]; ok {
			shadowed = append(shadowed, gvr.String())
			continue
		}
		c.byGVR[gvr] = &cp
		c.sorted = append(c.sorted, &cp)
	}
	sortResources(c.sorted)
	s.custom.Store(c)
	s.generation.Add(1)
	return shadowed
}
