package registry

import (
	"context"
	"fmt"
	"math"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel/model"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/cel/common"
)

// CustomResources returns the resources a CustomResourceDefinition defines: one descriptor per
// served version, with apiextensions-apiserver 1.32's behaviour (k8s.io/apiextensions-apiserver/
// pkg/apiserver's crdHandler and pkg/registry/customresource): structural pruning and
// defaulting, OpenAPI schema, embedded-resource, list-type and CEL (x-kubernetes-validations)
// validation, the status and scale subresources, additionalPrinterColumns and selectableFields.
// The names are status.acceptedNames when set, else spec.names. Versions that are not the
// storage version are stored in it (conversion strategy None: only apiVersion changes).
//
// A definition that cannot be served (no storage version, a schema that is not structural, a
// conversion webhook: see CustomResourcesConverting) gives an error and no resources.
func CustomResources(crd *apiextensionsv1.CustomResourceDefinition) ([]*Resource, error) {
	return CustomResourcesConverting(crd, nil)
}

// Converter converts a custom object to another version of its CRD (the CRD's conversion
// webhook). It must not change its argument.
type Converter func(obj *unstructured.Unstructured, to schema.GroupVersion) (*unstructured.Unstructured, error)

// CustomResourcesConverting is CustomResources for a CRD whose conversion strategy is Webhook:
// conv converts objects to the storage version on the way in and from the version they were
// stored in on the way out (every version is then a converting view, the storage version
// too: objects stored before the storage version changed are in another). A nil conv serves
// only the None strategy.
func CustomResourcesConverting(crd *apiextensionsv1.CustomResourceDefinition, conv Converter) (rs []*Resource, err error) {
	defer func() {
		// The upstream schema code assumes a definition its validation accepted; one read back
		// from an older store must not take the server down.
		if p := recover(); p != nil {
			rs, err = nil, fmt.Errorf("customresourcedefinition %s: %v", crd.Name, p)
		}
	}()
	names := crd.Status.AcceptedNames
	if names.Plural == "" {
		names = crd.Spec.Names
	}
	if names.Plural == "" || names.Kind == "" {
		return nil, fmt.Errorf("customresourcedefinition %s: no plural name or kind", crd.Name)
	}
	if names.Singular == "" {
		names.Singular = strings.ToLower(names.Kind)
	}
	if names.ListKind == "" {
		names.ListKind = names.Kind + "List"
	}
	webhook := crd.Spec.Conversion != nil && crd.Spec.Conversion.Strategy == apiextensionsv1.WebhookConverter
	if webhook && conv == nil {
		return nil, fmt.Errorf("customresourcedefinition %s: conversion strategy %s needs a converter", crd.Name, crd.Spec.Conversion.Strategy)
	}
	group := crd.Spec.Group
	storageVersion := ""
	coercers := make(map[string]*customCoercer, len(crd.Spec.Versions))
	props := make(map[string]*apiextensions.JSONSchemaProps, len(crd.Spec.Versions))
	for _, v := range crd.Spec.Versions {
		if v.Storage {
			if storageVersion != "" {
				return nil, fmt.Errorf("customresourcedefinition %s: more than one storage version", crd.Name)
			}
			storageVersion = v.Name
		}
		ss, p, err := customSchemas(v.Schema)
		if err != nil {
			return nil, fmt.Errorf("customresourcedefinition %s version %s: %w", crd.Name, v.Name, err)
		}
		props[v.Name] = p
		coercers[v.Name] = &customCoercer{schema: ss, preserveUnknownFields: crd.Spec.PreserveUnknownFields}
	}
	if storageVersion == "" {
		return nil, fmt.Errorf("customresourcedefinition %s: no storage version", crd.Name)
	}

	for _, v := range crd.Spec.Versions {
		if !v.Served {
			continue
		}
		cr, err := newCustomResource(crd, names, v, coercers[v.Name], props[v.Name])
		if err != nil {
			return nil, fmt.Errorf("customresourcedefinition %s version %s: %w", crd.Name, v.Name, err)
		}
		r := cr.resource(names)
		r.CRD = crd
		switch {
		case webhook:
			r.Storage = convertingStorage(group, names.Kind, v.Name, storageVersion, coercers[storageVersion], conv)
		case v.Name != storageVersion:
			r.Storage = customStorage(group, names.Kind, v.Name, storageVersion, coercers[storageVersion])
		}
		rs = append(rs, r)
	}
	return rs, nil
}

// customSchemas builds a version's structural schema (defaults pruned, as the crdHandler serves
// it) and its internal OpenAPI schema; both nil without a schema.
func customSchemas(v *apiextensionsv1.CustomResourceValidation) (*structuralschema.Structural, *apiextensions.JSONSchemaProps, error) {
	if v == nil || v.OpenAPIV3Schema == nil {
		return nil, nil, nil
	}
	internal := &apiextensions.CustomResourceValidation{}
	if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(v.DeepCopy(), internal, nil); err != nil {
		return nil, nil, fmt.Errorf("converting the schema: %w", err)
	}
	ss, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
	if err != nil {
		return nil, nil, fmt.Errorf("schema is not structural: %w", err)
	}
	if errs := structuralschema.ValidateStructural(nil, ss); len(errs) > 0 {
		return nil, nil, fmt.Errorf("schema is not structural: %w", errs.ToAggregate())
	}
	ss = ss.DeepCopy()
	if err := structuraldefaulting.PruneDefaults(ss); err != nil {
		return nil, nil, fmt.Errorf("pruning defaults: %w", err)
	}
	return ss, internal.OpenAPIV3Schema, nil
}

// customResource is one served version of a custom resource: upstream's customResourceStrategy,
// statusStrategy and customResourceValidator.
type customResource struct {
	gvk        schema.GroupVersionKind
	namespaced bool
	coercer    *customCoercer
	schema     *structuralschema.Structural // nil without a schema

	validator       apiservervalidation.SchemaValidator
	statusValidator apiservervalidation.SchemaValidator // nil without a status schema
	cel             *cel.Validator                      // nil without x-kubernetes-validations

	status bool
	scale  *apiextensionsv1.CustomResourceSubresourceScale

	columns    []apiextensionsv1.CustomResourceColumnDefinition
	selectable []apiextensionsv1.SelectableField
}

// newCustomResource builds a served version from its coercer (structural schema) and its
// internal OpenAPI schema (nil without a schema).
func newCustomResource(crd *apiextensionsv1.CustomResourceDefinition, names apiextensionsv1.CustomResourceDefinitionNames, v apiextensionsv1.CustomResourceDefinitionVersion, c *customCoercer, props *apiextensions.JSONSchemaProps) (*customResource, error) {
	validator, _, err := apiservervalidation.NewSchemaValidator(props)
	if err != nil {
		return nil, fmt.Errorf("schema validator: %w", err)
	}
	cr := &customResource{
		gvk:        schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: names.Kind},
		namespaced: crd.Spec.Scope == apiextensionsv1.NamespaceScoped,
		coercer:    c,
		schema:     c.schema,
		validator:  validator,
		columns:    v.AdditionalPrinterColumns,
		selectable: v.SelectableFields,
	}
	if c.schema != nil {
		cr.cel = cel.NewValidator(c.schema, true, celconfig.PerCallLimit)
	}
	if s := v.Subresources; s != nil {
		if s.Status != nil {
			cr.status = true
			// for the status subresource, validate only against the status schema
			if props != nil && props.Properties != nil {
				if statusSchema, ok := props.Properties["status"]; ok {
					cr.statusValidator, _, err = apiservervalidation.NewSchemaValidator(&statusSchema)
					if err != nil {
						return nil, fmt.Errorf("status schema validator: %w", err)
					}
				}
			}
		}
		if s.Scale != nil {
			cr.scale = s.Scale.DeepCopy()
		}
	}
	return cr, nil
}

// resource builds the descriptor.
func (cr *customResource) resource(names apiextensionsv1.CustomResourceDefinitionNames) *Resource {
	gv := cr.gvk.GroupVersion()
	r := &Resource{
		Group: gv.Group, Version: gv.Version, Resource: names.Plural, Kind: names.Kind, ListKind: names.ListKind,
		SingularName: names.Singular,
		ShortNames:   append([]string(nil), names.ShortNames...),
		Categories:   append([]string(nil), names.Categories...),
		Namespaced:   cr.namespaced,
		Custom:       true,
		New: func() runtime.Object {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(cr.gvk)
			return u
		},
		NewList: func() runtime.Object {
			l := &unstructured.UnstructuredList{}
			l.SetGroupVersionKind(gv.WithKind(names.ListKind))
			return l
		},
		Prune: func(obj runtime.Object) ([]string, error) {
			return cr.coercer.apply(obj.(*unstructured.Unstructured), true)
		},
		Default:          func(obj runtime.Object) { cr.coercer.defaults(obj.(*unstructured.Unstructured)) },
		PrepareForCreate: func(obj runtime.Object) { cr.prepareForCreate(obj.(*unstructured.Unstructured)) },
		Validate:         func(obj runtime.Object) field.ErrorList { return cr.validate(obj) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return cr.validateUpdate(obj, old)
		},
		Table: customTable(cr.columns),
	}
	if len(cr.selectable) > 0 {
		r.Fields = customFields(cr.selectable)
	}
	if cr.status {
		r.Subresources = append(r.Subresources, "status")
		r.HasStatus = true
		r.PrepareForSubresourceUpdate = func(sub string, obj, old runtime.Object) {
			if sub == "status" {
				customPrepareForStatusUpdate(obj.(*unstructured.Unstructured), old.(*unstructured.Unstructured))
			}
		}
		r.ValidateStatusUpdate = func(obj, old runtime.Object) field.ErrorList {
			return cr.validateStatusUpdate(obj, old)
		}
	}
	if cr.scale != nil {
		r.Subresources = append(r.Subresources, "scale")
		r.Scale = customScale(cr.scale)
	}
	return r
}

// customCoercer is upstream's unstructuredSchemaCoercer and unstructuredDefaulter for one version:
// ObjectMeta coercion, structural pruning and defaulting.
type customCoercer struct {
	schema                *structuralschema.Structural // nil without a schema
	preserveUnknownFields bool
}

// apply prunes u as upstream's unstructuredSchemaCoercer does: unknown fields of metadata are
// dropped, unknown fields are pruned following the structural schema, nulls the schema does
// not allow and cannot default are removed, and embedded resources' metadata is coerced. For
// a request body (request true) malformed metadata, in the object or in an embedded resource,
// is an error, as upstream's request decoder refuses it, and the paths of the unknown fields
// dropped are returned as upstream reports them after `unknown field `; on the way to and from
// storage malformed metadata is dropped.
func (c *customCoercer) apply(u *unstructured.Unstructured, request bool) ([]string, error) {
	kind, foundKind, _ := unstructured.NestedString(u.Object, "kind")
	apiVersion, foundAPIVersion, _ := unstructured.NestedString(u.Object, "apiVersion")
	objectMeta, foundObjectMeta, unknown, err := schemaobjectmeta.GetObjectMetaWithOptions(u.Object, schemaobjectmeta.ObjectMetaOptions{
		DropMalformedFields:     !request,
		ReturnUnknownFieldPaths: request,
	})
	if err != nil {
		if request {
			return nil, err
		}
		foundObjectMeta = false // not an object: left as it is, for validation to refuse
	}
	if c.schema != nil && !c.preserveUnknownFields {
		unknown = append(unknown, structuralpruning.PruneWithOptions(u.Object, c.schema, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: request})...)
		structuraldefaulting.PruneNonNullableNullsWithoutDefaults(u.Object, c.schema)
	}
	if c.schema != nil {
		ferr, paths := schemaobjectmeta.CoerceWithOptions(nil, u.Object, c.schema, false, schemaobjectmeta.CoerceOptions{
			DropInvalidFields:       !request,
			ReturnUnknownFieldPaths: request,
		})
		if request && ferr != nil {
			return nil, ferr
		}
		unknown = append(unknown, paths...)
	}
	if foundKind {
		u.SetKind(kind)
	}
	if foundAPIVersion {
		u.SetAPIVersion(apiVersion)
	}
	if foundObjectMeta {
		if err := schemaobjectmeta.SetObjectMeta(u.Object, objectMeta); err != nil && request {
			return nil, err
		}
	}
	return unknown, nil
}

// defaults applies the schema's defaults (upstream's unstructuredDefaulter, run on request
// bodies and on objects read from storage). It is idempotent.
func (c *customCoercer) defaults(u *unstructured.Unstructured) {
	if c.schema != nil {
		structuraldefaulting.Default(u.Object, c.schema)
	}
}

// prepareForCreate is upstream's PrepareForCreate: with the status subresource a create cannot
// set status. (The API server sets the generation, and on updates of the main resource keeps
// the stored status and counts the generation for every resource with HasStatus, custom ones
// included: apiserver's copyStatus and specChanged.)
func (cr *customResource) prepareForCreate(u *unstructured.Unstructured) {
	if cr.status {
		delete(u.Object, "status")
	}
}

// customPrepareForStatusUpdate is upstream's statusStrategy.PrepareForUpdate: a status update
// changes the status only; everything else, metadata included, is the stored object's (the
// managedFields and the resourceVersion the update is conditioned on are the request's).
func customPrepareForStatusUpdate(u, old *unstructured.Unstructured) {
	status, ok := u.Object["status"]
	managedFields := u.GetManagedFields()
	rv := u.GetResourceVersion()
	u.Object = old.DeepCopy().Object
	u.SetManagedFields(managedFields)
	u.SetResourceVersion(rv)
	if ok {
		u.Object["status"] = status
	} else {
		delete(u.Object, "status")
	}
}

// validate is upstream's customResourceStrategy.Validate (the API server validates ObjectMeta
// itself, as upstream's validator also does, with DNS-subdomain names).
func (cr *customResource) validate(obj runtime.Object) field.ErrorList {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return field.ErrorList{field.Invalid(field.NewPath(""), obj, fmt.Sprintf("has type %T. Must be a pointer to an Unstructured type", obj))}
	}
	errs := cr.validateTypeMeta(u)
	if len(errs) > 0 {
		return errs
	}
	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, u.UnstructuredContent(), cr.validator)...)
	errs = append(errs, cr.validateScaleSpec(u)...)
	errs = append(errs, cr.validateScaleStatus(u)...)
	// validate embedded resources
	errs = append(errs, schemaobjectmeta.Validate(nil, u.Object, cr.schema, false)...)
	// validate x-kubernetes-list-type "map" and "set" invariant
	errs = append(errs, structurallisttype.ValidateListSetsAndMaps(nil, cr.schema, u.Object)...)
	// validate x-kubernetes-validations rules
	if cr.cel != nil {
		if has, err := customHasBlockingErr(errs); has {
			errs = append(errs, err)
		} else {
			celErrs, _ := cr.cel.Validate(context.Background(), nil, cr.schema, u.Object, nil, celconfig.RuntimeCELCostBudget)
			errs = append(errs, celErrs...)
		}
	}
	return errs
}

// validateUpdate is upstream's customResourceStrategy.ValidateUpdate, with validation
// ratcheting (CRDValidationRatcheting, beta and on in 1.32): errors in values unchanged from
// the stored object are not reported.
func (cr *customResource) validateUpdate(obj, old runtime.Object) field.ErrorList {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return field.ErrorList{field.Invalid(field.NewPath(""), obj, fmt.Sprintf("has type %T. Must be a pointer to an Unstructured type", obj))}
	}
	uOld, ok := old.(*unstructured.Unstructured)
	if !ok {
		return field.ErrorList{field.Invalid(field.NewPath(""), old, fmt.Sprintf("has type %T. Must be a pointer to an Unstructured type", old))}
	}
	var options []apiservervalidation.ValidationOption
	var celOptions []cel.Option
	if cr.schema != nil {
		correlated := common.NewCorrelatedObject(u.Object, uOld.Object, &model.Structural{Structural: cr.schema})
		options = append(options, apiservervalidation.WithRatcheting(correlated))
		celOptions = append(celOptions, cel.WithRatcheting(correlated))
	}
	errs := cr.validateTypeMeta(u)
	if len(errs) > 0 {
		return errs
	}
	errs = append(errs, apiservervalidation.ValidateCustomResourceUpdate(nil, u.UnstructuredContent(), uOld.UnstructuredContent(), cr.validator, options...)...)
	errs = append(errs, cr.validateScaleSpec(u)...)
	errs = append(errs, cr.validateScaleStatus(u)...)
	// Checks the embedded objects. We don't make a difference between update and create for those.
	errs = append(errs, schemaobjectmeta.Validate(nil, u.Object, cr.schema, false)...)
	// ratcheting validation of x-kubernetes-list-type value map and set
	if oldErrs := structurallisttype.ValidateListSetsAndMaps(nil, cr.schema, uOld.Object); len(oldErrs) == 0 {
		errs = append(errs, structurallisttype.ValidateListSetsAndMaps(nil, cr.schema, u.Object)...)
	}
	if cr.cel != nil {
		if has, err := customHasBlockingErr(errs); has {
			errs = append(errs, err)
		} else {
			celErrs, _ := cr.cel.Validate(context.Background(), nil, cr.schema, u.Object, uOld.Object, celconfig.RuntimeCELCostBudget, celOptions...)
			errs = append(errs, celErrs...)
		}
	}
	return errs
}

// validateStatusUpdate is upstream's statusStrategy.ValidateUpdate: the status against the
// status schema, the scale status, list types (ratcheting) and CEL rules.
func (cr *customResource) validateStatusUpdate(obj, old runtime.Object) field.ErrorList {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return field.ErrorList{field.Invalid(field.NewPath(""), obj, fmt.Sprintf("has type %T. Must be a pointer to an Unstructured type", obj))}
	}
	uOld, ok := old.(*unstructured.Unstructured)
	if !ok {
		return field.ErrorList{field.Invalid(field.NewPath(""), old, fmt.Sprintf("has type %T. Must be a pointer to an Unstructured type", old))}
	}
	errs := cr.validateTypeMeta(u)
	if len(errs) > 0 {
		return errs
	}
	if status, hasStatus := u.UnstructuredContent()["status"]; hasStatus {
		errs = append(errs, apiservervalidation.ValidateCustomResourceUpdate(field.NewPath("status"), status, uOld.UnstructuredContent()["status"], cr.statusValidator)...)
	}
	errs = append(errs, cr.validateScaleStatus(u)...)
	if newErrs := structurallisttype.ValidateListSetsAndMaps(nil, cr.schema, u.Object); len(newErrs) > 0 {
		if oldErrs := structurallisttype.ValidateListSetsAndMaps(nil, cr.schema, uOld.Object); len(oldErrs) == 0 {
			errs = append(errs, newErrs...)
		}
	}
	if cr.cel != nil {
		if has, err := customHasBlockingErr(errs); has {
			errs = append(errs, err)
		} else {
			celErrs, _ := cr.cel.Validate(context.Background(), nil, cr.schema, u.Object, uOld.Object, celconfig.RuntimeCELCostBudget)
			errs = append(errs, celErrs...)
		}
	}
	return errs
}

// validateTypeMeta is upstream's ValidateTypeMeta: kind and apiVersion are this version's.
func (cr *customResource) validateTypeMeta(u *unstructured.Unstructured) field.ErrorList {
	var errs field.ErrorList
	if k := u.GetKind(); k != cr.gvk.Kind {
		errs = append(errs, field.Invalid(field.NewPath("kind"), k, fmt.Sprintf("must be %v", cr.gvk.Kind)))
	}
	if v := u.GetAPIVersion(); v != cr.gvk.Group+"/"+cr.gvk.Version {
		errs = append(errs, field.Invalid(field.NewPath("apiVersion"), v, fmt.Sprintf("must be %v", cr.gvk.Group+"/"+cr.gvk.Version)))
	}
	return errs
}

// customPathFields splits a dotted JSON path (".spec.replicas") into its fields.
func customPathFields(path string) []string {
	return strings.Split(strings.TrimPrefix(path, "."), ".")
}

// validateScaleSpec is upstream's ValidateScaleSpec: the specReplicasPath value, when set, is a
// non-negative int32.
func (cr *customResource) validateScaleSpec(u *unstructured.Unstructured) field.ErrorList {
	if cr.scale == nil {
		return nil
	}
	return customValidateReplicas(u, cr.scale.SpecReplicasPath)
}

// validateScaleStatus is upstream's ValidateScaleStatus: the statusReplicasPath value is a
// non-negative int32, the labelSelectorPath value a string.
func (cr *customResource) validateScaleStatus(u *unstructured.Unstructured) field.ErrorList {
	if cr.scale == nil {
		return nil
	}
	errs := customValidateReplicas(u, cr.scale.StatusReplicasPath)
	if p := cr.scale.LabelSelectorPath; p != nil {
		selector, _, err := unstructured.NestedString(u.UnstructuredContent(), customPathFields(*p)...)
		if err != nil {
			errs = append(errs, field.Invalid(field.NewPath(*p), selector, err.Error()))
		}
	}
	return errs
}

func customValidateReplicas(u *unstructured.Unstructured, path string) field.ErrorList {
	replicas, _, err := unstructured.NestedInt64(u.UnstructuredContent(), customPathFields(path)...)
	switch {
	case err != nil:
		return field.ErrorList{field.Invalid(field.NewPath(path), replicas, err.Error())}
	case replicas < 0:
		return field.ErrorList{field.Invalid(field.NewPath(path), replicas, "should be a non-negative integer")}
	case replicas > math.MaxInt32:
		return field.ErrorList{field.Invalid(field.NewPath(path), replicas, fmt.Sprintf("should be less than or equal to %v", math.MaxInt32))}
	}
	return nil
}

// customHasBlockingErr is upstream's hasBlockingErr: OpenAPI type, maxLength, maxItems,
// maxProperties, required and enum failures stop CEL validation.
func customHasBlockingErr(errs field.ErrorList) (bool, *field.Error) {
	for _, err := range errs {
		if err.Type == field.ErrorTypeNotSupported || err.Type == field.ErrorTypeRequired || err.Type == field.ErrorTypeTooLong || err.Type == field.ErrorTypeTooMany || err.Type == field.ErrorTypeTypeInvalid {
			return true, field.Invalid(nil, nil, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation")
		}
	}
	return false, nil
}

// customScale maps the scale subresource's paths (upstream's scaleFromCustomResource and the
// scale update, which sets the specReplicasPath value).
func customScale(s *apiextensionsv1.CustomResourceSubresourceScale) *Scale {
	specPath, statusPath := customPathFields(s.SpecReplicasPath), customPathFields(s.StatusReplicasPath)
	var selectorPath []string
	if s.LabelSelectorPath != nil {
		selectorPath = customPathFields(*s.LabelSelectorPath)
	}
	return &Scale{
		Get: func(obj runtime.Object) (spec, status int32, selector string) {
			u := obj.(*unstructured.Unstructured)
			sp, _, _ := unstructured.NestedInt64(u.Object, specPath...)
			st, _, _ := unstructured.NestedInt64(u.Object, statusPath...)
			if selectorPath != nil {
				selector, _, _ = unstructured.NestedString(u.Object, selectorPath...)
			}
			return int32(sp), int32(st), selector
		},
		Set: func(obj runtime.Object, replicas int32) {
			_ = unstructured.SetNestedField(obj.(*unstructured.Unstructured).Object, int64(replicas), specPath...)
		},
	}
}

// customStorage stores a version that is not the storage version in the storage version, as
// upstream's conversion strategy None does (apiVersion changes, nothing else). On the way in the
// object is pruned with the storage version's schema (the storage codec's
// schemaCoercingConverter); on the way out it is defaulted with the storage version's schema
// (the storage codec's unstructuredDefaulter) before its apiVersion becomes this version's.
func customStorage(group, kind, version string, storageVersion string, sc *customCoercer) *Storage {
	gv := schema.GroupVersion{Group: group, Version: version}
	storageGVK := schema.GroupVersionKind{Group: group, Version: storageVersion, Kind: kind}
	unstr := func(obj runtime.Object) (*unstructured.Unstructured, error) {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			return nil, fmt.Errorf("custom resource: unexpected object %T", obj)
		}
		return u.DeepCopy(), nil
	}
	return &Storage{
		Kind: storageGVK,
		New: func() runtime.Object {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(storageGVK)
			return u
		},
		ToStorage: func(obj runtime.Object) (runtime.Object, error) {
			u, err := unstr(obj)
			if err != nil {
				return nil, err
			}
			u.SetAPIVersion(storageGVK.GroupVersion().String())
			_, _ = sc.apply(u, false) // drops what is malformed: no error
			return u, nil
		},
		FromStorage: func(stored runtime.Object) (runtime.Object, error) {
			u, err := unstr(stored)
			if err != nil {
				return nil, err
			}
			sc.defaults(u)
			u.SetAPIVersion(gv.String())
			return u, nil
		},
	}
}

// convertingStorage is customStorage through a conversion webhook: to the storage version on
// the way in, from the version an object was stored in on the way out.
func convertingStorage(group, kind, version string, storageVersion string, sc *customCoercer, conv Converter) *Storage {
	st := customStorage(group, kind, version, storageVersion, sc)
	gv := schema.GroupVersion{Group: group, Version: version}
	storageGV := schema.GroupVersion{Group: group, Version: storageVersion}
	convert := func(obj runtime.Object, to schema.GroupVersion) (*unstructured.Unstructured, error) {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			return nil, fmt.Errorf("custom resource: unexpected object %T", obj)
		}
		if u.GroupVersionKind().GroupVersion() == to {
			return u.DeepCopy(), nil
		}
		return conv(u, to)
	}
	st.ToStorage = func(obj runtime.Object) (runtime.Object, error) {
		u, err := convert(obj, storageGV)
		if err != nil {
			return nil, err
		}
		_, _ = sc.apply(u, false) // drops what is malformed: no error
		return u, nil
	}
	st.FromStorage = func(stored runtime.Object) (runtime.Object, error) {
		u, err := convert(stored, gv)
		if err != nil {
			return nil, err
		}
		sc.defaults(u)
		return u, nil
	}
	return st
}
