package apiserver

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/controller/openapi/builder"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"sigs.k8s.io/structured-merge-diff/v4/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v4/typed"

	"github.com/drover-ci/drover/cluster/apiserver/discovery"
	"github.com/drover-ci/drover/cluster/registry"
)

// Server-side apply and metadata.managedFields, as kube-apiserver has them: every create,
// update and patch records which field manager set which fields, and a PATCH of type
// application/apply-patch+yaml merges an applied configuration into the object, owned field
// by field, with conflicts between managers. The merging and the bookkeeping are
// k8s.io/apimachinery's managedfields package, the code kube-apiserver runs; the schemas it
// merges by are client-go's and apiextensions' (the k8s.io/api and CRD types, with their list
// types and map keys) and, for a custom resource, its CRD's (as kube-apiserver builds them).

// fieldManagers builds and keeps one FieldManager per served resource and subresource.
type fieldManagers struct {
	s     *Server
	typed managedfields.TypeConverter // the built-in kinds

	mu sync.Mutex
	// byRes holds the managers by resource descriptor; custom resources' descriptors are
	// replaced when their CRDs change, and forgetCustom drops theirs then.
	byRes map[fieldManagerKey]*managedfields.FieldManager
	// custom holds the type converter of each CRD (by the descriptor shared by its versions).
	custom map[*apiextensionsv1.CustomResourceDefinition]managedfields.TypeConverter
}

type fieldManagerKey struct {
	res *registry.Resource
	sub string
}

func newFieldManagers(s *Server) *fieldManagers {
	return &fieldManagers{
		s: s,
		typed: builtinTypeConverter{scheme: protobufScheme,
			resolver: applyconfigurations.NewTypeConverter(protobufScheme).TypeResolver,
			deduced:  managedfields.NewDeducedTypeConverter()},
		byRes:  map[fieldManagerKey]*managedfields.FieldManager{},
		custom: map[*apiextensionsv1.CustomResourceDefinition]managedfields.TypeConverter{},
	}
}

// forgetCustom drops the managers of custom resources (their CRDs changed).
func (f *fieldManagers) forgetCustom() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k := range f.byRes {
		if k.res.Custom {
			delete(f.byRes, k)
		}
	}
	clear(f.custom)
}

// manager returns the FieldManager of res's subresource sub ("" or "status").
func (f *fieldManagers) manager(res *registry.Resource, sub string) (*managedfields.FieldManager, error) {
	key := fieldManagerKey{res, sub}
	f.mu.Lock()
	defer f.mu.Unlock()
	if m, ok := f.byRes[key]; ok {
		return m, nil
	}
	conv := fieldConvertor{objectInterfaces{f.s}}
	gvk := res.GroupVersionKind()
	reset := fieldpath.NewExcludeFilterSetMap(resetFields(res, sub))
	var m *managedfields.FieldManager
	var err error
	if res.Custom {
		tc, terr := f.customTypeConverter(res)
		if terr != nil {
			return nil, terr
		}
		m, err = managedfields.NewDefaultCRDFieldManager(tc, conv, conv, conv, gvk, gvk.GroupVersion(), sub, reset)
	} else {
		m, err = managedfields.NewDefaultFieldManager(f.typed, conv, conv, conv, gvk, gvk.GroupVersion(), sub, reset)
	}
	if err != nil {
		return nil, fmt.Errorf("the field manager of %s: %w", res.GroupVersionResource(), err)
	}
	f.byRes[key] = m
	return m, nil
}

// customTypeConverter builds a CRD's schemas for merging as kube-apiserver's CRD handler does
// (buildOpenAPIModelsForApply): the OpenAPI v3 of every version, the metadata types with them;
// a CRD whose schemas cannot be built merges by deduced types.
func (f *fieldManagers) customTypeConverter(res *registry.Resource) (managedfields.TypeConverter, error) {
	crd := res.CRD
	if tc, ok := f.custom[crd]; ok {
		return tc, nil
	}
	var tc managedfields.TypeConverter = managedfields.NewDeducedTypeConverter()
	if crd != nil {
		specs := make([]*spec3.OpenAPI, 0, len(crd.Spec.Versions))
		var err error
		for _, v := range crd.Spec.Versions {
			var s *spec3.OpenAPI
			if s, err = builder.BuildOpenAPIV3(crd, v.Name, builder.Options{}); err != nil {
				break
			}
			specs = append(specs, s)
		}
		var merged *spec3.OpenAPI
		if err == nil {
			merged, err = builder.MergeSpecsV3(specs...)
		}
		if err == nil && merged.Components != nil && len(merged.Components.Schemas) > 0 {
			models := map[string]*spec.Schema(merged.Components.Schemas)
			if tc, err = managedfields.NewTypeConverter(models, crd.Spec.PreserveUnknownFields); err != nil {
				return nil, fmt.Errorf("the merge schemas of %s: %w", crd.Name, err)
			}
		} else if err != nil {
			f.s.log.Warn("custom resource merged by deduced types", "crd", crd.Name, "err", err)
		}
	}
	f.custom[crd] = tc
	return tc, nil
}

// resetFields are the fields a write through sub may not set, which its manager therefore does
// not own (the strategies' GetResetFields): status through the main resource of a resource
// with a status subresource; everything but metadata and status through status (and the
// labels where the status update keeps them).
func resetFields(res *registry.Resource, sub string) map[fieldpath.APIVersion]*fieldpath.Set {
	v := fieldpath.APIVersion(res.GroupVersion().String())
	switch {
	case sub == "" && res.HasStatus:
		return map[fieldpath.APIVersion]*fieldpath.Set{v: fieldpath.NewSet(fieldpath.MakePathOrDie("status"))}
	case sub == "status":
		var paths []fieldpath.Path
		for _, name := range topLevelFields(res) {
			if name != "metadata" && name != "status" && name != "apiVersion" && name != "kind" {
				paths = append(paths, fieldpath.MakePathOrDie(name))
			}
		}
		if res.StatusKeepsLabels {
			paths = append(paths, fieldpath.MakePathOrDie("metadata", "labels"))
		}
		return map[fieldpath.APIVersion]*fieldpath.Set{v: fieldpath.NewSet(paths...)}
	}
	return nil
}

// topLevelFields are the JSON names of the top-level fields of res's objects (a custom
// resource's: spec and whatever its schema has beside it).
func topLevelFields(res *registry.Resource) []string {
	if res.Custom {
		names := []string{"spec"}
		if res.CRD != nil {
			for _, v := range res.CRD.Spec.Versions {
				if v.Name == res.Version && v.Schema != nil && v.Schema.OpenAPIV3Schema != nil {
					names = names[:0]
					for name := range v.Schema.OpenAPIV3Schema.Properties {
						names = append(names, name)
					}
				}
			}
		}
		return names
	}
	t := reflect.TypeOf(res.New()).Elem()
	var names []string
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

// fieldManagerCtx carries the request's field manager through create and update.
type fieldManagerCtx struct{}

type requestManager struct {
	name string
	// applied: the object's managed fields are already the apply's; the write keeps them.
	applied bool
}

// withFieldManager names the manager of a request's writes: its fieldManager parameter, else
// its User-Agent up to the first "/" (kube-apiserver's managerOrUserAgent).
func withFieldManager(ctx context.Context, r *http.Request) context.Context {
	return context.WithValue(ctx, fieldManagerCtx{}, requestManager{name: managerOrUserAgent(r.URL.Query().Get("fieldManager"), r.UserAgent())})
}

// withApplied marks the object a write gets as merged by an apply.
func withApplied(ctx context.Context) context.Context {
	rm, _ := ctx.Value(fieldManagerCtx{}).(requestManager)
	rm.applied = true
	return context.WithValue(ctx, fieldManagerCtx{}, rm)
}

// requestManagerOf is ctx's manager; writes the server makes itself are "drover"'s.
func requestManagerOf(ctx context.Context) requestManager {
	rm, _ := ctx.Value(fieldManagerCtx{}).(requestManager)
	if rm.name == "" {
		rm.name = "drover"
	}
	return rm
}

func managerOrUserAgent(manager, userAgent string) string {
	if manager != "" {
		return manager
	}
	prefix, _, _ := strings.Cut(userAgent, "/")
	var buf bytes.Buffer
	for _, r := range prefix {
		if !unicode.IsPrint(r) {
			continue
		}
		if buf.Len()+utf8.RuneLen(r) > metav1validation.FieldManagerMaxLength {
			break
		}
		buf.WriteRune(r)
	}
	return buf.String()
}

// trackCreate records the managed fields of a new object (set by the request's manager).
func (f *fieldManagers) trackCreate(ctx context.Context, res *registry.Resource, obj runtime.Object) runtime.Object {
	rm := requestManagerOf(ctx)
	if rm.applied {
		return obj
	}
	m, err := f.manager(res, "")
	if err != nil {
		f.s.log.Warn("managed fields not tracked", "resource", res.GroupVersionResource(), "err", err)
		accessor(obj).SetManagedFields(nil)
		return obj
	}
	setKind(res, obj)
	return m.UpdateNoErrors(newObjectOf(res), obj, rm.name)
}

// trackUpdate records what an update through sub changed as its manager's.
func (f *fieldManagers) trackUpdate(ctx context.Context, res *registry.Resource, sub string, obj, old runtime.Object) runtime.Object {
	rm := requestManagerOf(ctx)
	if rm.applied {
		return obj
	}
	if sub != "" && sub != "status" {
		sub = "" // binding, finalize, approval, ephemeralcontainers: tracked as updates
	}
	m, err := f.manager(res, sub)
	if err != nil {
		f.s.log.Warn("managed fields not tracked", "resource", res.GroupVersionResource(), "err", err)
		return obj
	}
	setKind(res, obj)
	setKind(res, old)
	return m.UpdateNoErrors(old, obj, rm.name)
}

// keepValidManagedFields undoes what an admission webhook did to metadata.managedFields when
// it left them invalid (kube-apiserver's managed fields validating admission controller).
func keepValidManagedFields(obj runtime.Object, before []metav1.ManagedFieldsEntry) {
	m := accessor(obj)
	if err := managedfields.ValidateManagedFields(m.GetManagedFields()); err != nil {
		m.SetManagedFields(before)
	}
}

// newObjectOf is an empty object of res with its kind set.
func newObjectOf(res *registry.Resource) runtime.Object {
	var obj runtime.Object
	if res.Custom {
		obj = &unstructured.Unstructured{Object: map[string]interface{}{}}
	} else {
		obj = res.New()
	}
	obj.GetObjectKind().SetGroupVersionKind(res.GroupVersionKind())
	return obj
}

func setKind(res *registry.Resource, obj runtime.Object) {
	if obj.GetObjectKind().GroupVersionKind().Empty() {
		obj.GetObjectKind().SetGroupVersionKind(res.GroupVersionKind())
	}
}

// applyError is an error of the field manager as kube-apiserver answers it: conflicts and bad
// requests as they are, anything else (a field the schema does not declare) a 500 with the
// merge's own message.
func applyError(err error) error {
	if _, ok := err.(apierrors.APIStatus); ok {
		return err
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure,
		Code: http.StatusInternalServerError, Reason: metav1.StatusReasonUnknown, Message: err.Error()}}
}

// writeOptionsError checks the options of a create, update or patch (kind CreateOptions,
// UpdateOptions or PatchOptions) as the query gives them, as kube-apiserver does.
func writeOptionsError(r *http.Request, kind string, apply bool) error {
	q := r.URL.Query()
	var errs field.ErrorList
	dryRun := q["dryRun"]
	manager := q.Get("fieldManager")
	validation := q.Get("fieldValidation")
	force, err := forceParam(r)
	if err != nil {
		return err
	}
	switch kind {
	case "CreateOptions":
		errs = metav1validation.ValidateCreateOptions(&metav1.CreateOptions{DryRun: dryRun, FieldManager: manager, FieldValidation: validation})
	case "UpdateOptions":
		errs = metav1validation.ValidateUpdateOptions(&metav1.UpdateOptions{DryRun: dryRun, FieldManager: manager, FieldValidation: validation})
	case "PatchOptions":
		pt := types.MergePatchType
		if apply {
			pt = types.ApplyYAMLPatchType
		}
		errs = metav1validation.ValidatePatchOptions(&metav1.PatchOptions{DryRun: dryRun, FieldManager: manager, FieldValidation: validation, Force: force}, pt)
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: kind}, "", errs)
	}
	return nil
}

// forceParam is the request's force parameter (nil when absent), parsed as kube-apiserver's
// parameter codec parses a bool; the apply and the options check read it through here.
func forceParam(r *http.Request) (*bool, error) {
	v, ok := r.URL.Query()["force"]
	if !ok || len(v) == 0 {
		return nil, nil
	}
	b, err := strconv.ParseBool(v[0])
	if err != nil {
		return nil, badRequest("force: invalid boolean value %q", v[0])
	}
	return &b, nil
}

// builtinTypeConverter is client-go's TypeConverter (the schemas of the k8s.io/api kinds);
// kinds it has no schema for (apiextensions.k8s.io's CustomResourceDefinition: its
// applyconfigurations carry none) merge by deduced types, every list atomic.
type builtinTypeConverter struct {
	scheme   *runtime.Scheme
	resolver interface {
		Type(name string) typed.ParseableType
	}
	deduced managedfields.TypeConverter
}

func (tc builtinTypeConverter) ObjectToTyped(obj runtime.Object, opts ...typed.ValidationOptions) (*typed.TypedValue, error) {
	gvk := obj.GetObjectKind().GroupVersionKind()
	example, err := tc.scheme.New(gvk)
	if err != nil {
		return nil, err
	}
	pt := tc.resolver.Type(discovery.DefinitionName(reflect.TypeOf(example).Elem()))
	if !pt.IsValid() {
		return tc.deduced.ObjectToTyped(obj, opts...)
	}
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return pt.FromUnstructured(u.UnstructuredContent(), opts...)
	}
	return pt.FromStructured(obj, opts...)
}

func (tc builtinTypeConverter) TypedToObject(value *typed.TypedValue) (runtime.Object, error) {
	u, ok := value.AsValue().Unstructured().(map[string]interface{})
	if !ok {
		return nil, fmt.Errorf("the merged value is not an object")
	}
	return &unstructured.Unstructured{Object: u}, nil
}

// fieldConvertor is what the field manager needs of a scheme: objects converted between
// their unstructured and typed forms and between the versions of one resource (through its
// stored version), kinds set; a kind drover does not serve is "not registered", which the
// field manager takes as a version whose managed fields it cannot convert.
type fieldConvertor struct{ o objectInterfaces }

func (c fieldConvertor) Convert(in, out, context interface{}) error {
	return c.o.Convert(in, out, context)
}

func (c fieldConvertor) ConvertFieldLabel(gvk schema.GroupVersionKind, label, value string) (string, string, error) {
	return label, value, nil
}

func (c fieldConvertor) ConvertToVersion(in runtime.Object, target runtime.GroupVersioner) (runtime.Object, error) {
	from := c.o.kindOf(in)
	to, ok := target.KindForGroupVersionKinds([]schema.GroupVersionKind{from})
	if !ok {
		return nil, runtime.NewNotRegisteredErrForKind("drover", from)
	}
	toRes := c.o.resourceOfKind(to)
	if toRes == nil {
		return nil, runtime.NewNotRegisteredErrForKind("drover", to)
	}
	src := in
	if u, isU := in.(*unstructured.Unstructured); isU && !toRes.Custom {
		fromRes := c.o.resourceOfKind(from)
		if fromRes == nil {
			return nil, runtime.NewNotRegisteredErrForKind("drover", from)
		}
		typedObj := fromRes.New()
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.UnstructuredContent(), typedObj); err != nil {
			return nil, err
		}
		src = typedObj
	}
	src.GetObjectKind().SetGroupVersionKind(from)
	if from == to {
		return src, nil
	}
	var out runtime.Object = &unstructured.Unstructured{}
	if !toRes.Custom {
		out = toRes.New()
	}
	if err := c.o.Convert(src, out, nil); err != nil {
		return nil, runtime.NewNotRegisteredErrForKind("drover", to)
	}
	out.GetObjectKind().SetGroupVersionKind(to)
	return out, nil
}

func (c fieldConvertor) New(gvk schema.GroupVersionKind) (runtime.Object, error) {
	if r := c.o.resourceOfKind(gvk); r != nil {
		return newObjectOf(r), nil
	}
	return nil, runtime.NewNotRegisteredErrForKind("drover", gvk)
}

func (c fieldConvertor) Default(obj runtime.Object) { c.o.Default(obj) }
