package registry

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// APIExtensionsGroup is the apiextensions.k8s.io API group: CustomResourceDefinitions.
const APIExtensionsGroup = apiextensionsv1.GroupName

// crdResource describes the apiextensions.k8s.io/v1 customresourcedefinitions resource, with
// Kubernetes' customresourcedefinition strategy (k8s.io/apiextensions-apiserver/pkg/registry/
// customresourcedefinition) and validation. The resources a definition defines are built by
// CustomResources.
func crdResource() *Resource {
	return &Resource{
		Group: APIExtensionsGroup, Version: "v1", Resource: "customresourcedefinitions",
		Kind: "CustomResourceDefinition", SingularName: "customresourcedefinition",
		ShortNames:   []string{"crd", "crds"},
		Categories:   []string{"api-extensions"},
		Subresources: []string{"status"}, HasStatus: true,
		New:     func() runtime.Object { return &apiextensionsv1.CustomResourceDefinition{} },
		NewList: func() runtime.Object { return &apiextensionsv1.CustomResourceDefinitionList{} },
		Default: func(obj runtime.Object) {
			apiextensionsv1.SetObjectDefaults_CustomResourceDefinition(obj.(*apiextensionsv1.CustomResourceDefinition))
		},
		PrepareForCreate: func(obj runtime.Object) { crdPrepareForCreate(obj.(*apiextensionsv1.CustomResourceDefinition)) },
		PrepareForUpdate: func(obj, _ runtime.Object) {
			// The server has already kept the stored status.
			crdAddStoredVersion(obj.(*apiextensionsv1.CustomResourceDefinition))
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return crdValidate(obj.(*apiextensionsv1.CustomResourceDefinition))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return crdValidateUpdate(obj.(*apiextensionsv1.CustomResourceDefinition), old.(*apiextensionsv1.CustomResourceDefinition))
		},
		ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList {
			return crdValidateStatusUpdate(obj.(*apiextensionsv1.CustomResourceDefinition), old.(*apiextensionsv1.CustomResourceDefinition))
		},
		Table: crdTable(),
	}
}

// crdPrepareForCreate is the upstream strategy's PrepareForCreate: the status is cleared and
// status.storedVersions lists the storage version.
func crdPrepareForCreate(crd *apiextensionsv1.CustomResourceDefinition) {
	crd.Status = apiextensionsv1.CustomResourceDefinitionStatus{}
	crdAddStoredVersion(crd)
}

// crdAddStoredVersion appends the storage version to status.storedVersions when it is not
// listed yet (upstream PrepareForCreate and PrepareForUpdate).
func crdAddStoredVersion(crd *apiextensionsv1.CustomResourceDefinition) {
	for _, v := range crd.Spec.Versions {
		if !v.Storage {
			continue
		}
		for _, s := range crd.Status.StoredVersions {
			if s == v.Name {
				return
			}
		}
		crd.Status.StoredVersions = append(crd.Status.StoredVersions, v.Name)
		return
	}
}

// crdToInternal converts a v1 definition to the internal type the upstream validation takes.
func crdToInternal(crd *apiextensionsv1.CustomResourceDefinition) (*apiextensions.CustomResourceDefinition, *field.Error) {
	out := &apiextensions.CustomResourceDefinition{}
	if err := apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(crd.DeepCopy(), out, nil); err != nil {
		return nil, field.InternalError(field.NewPath("spec"), err)
	}
	return out, nil
}

// crdValidate is upstream's ValidateCustomResourceDefinition (metadata.name must be
// spec.names.plural+"."+spec.group, names, versions, schemas, conversion, storedVersions, ...).
func crdValidate(crd *apiextensionsv1.CustomResourceDefinition) field.ErrorList {
	in, ferr := crdToInternal(crd)
	if ferr != nil {
		return field.ErrorList{ferr}
	}
	errs := crdvalidation.ValidateCustomResourceDefinition(context.Background(), in)
	errs = withoutServerMetaErrors(errs, apivalidation.ValidateObjectMetaAccessor(&crd.ObjectMeta, false, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata")))
	return errs
}

// crdValidateUpdate is upstream's ValidateCustomResourceDefinitionUpdate.
func crdValidateUpdate(crd, old *apiextensionsv1.CustomResourceDefinition) field.ErrorList {
	in, oldIn, ferr := crdPairToInternal(crd, old)
	if ferr != nil {
		return field.ErrorList{ferr}
	}
	errs := crdvalidation.ValidateCustomResourceDefinitionUpdate(context.Background(), in, oldIn)
	return withoutServerMetaErrors(errs, crdServerMetaUpdateErrors(crd, old))
}

// crdValidateStatusUpdate is upstream's ValidateUpdateCustomResourceDefinitionStatus.
func crdValidateStatusUpdate(crd, old *apiextensionsv1.CustomResourceDefinition) field.ErrorList {
	in, oldIn, ferr := crdPairToInternal(crd, old)
	if ferr != nil {
		return field.ErrorList{ferr}
	}
	return withoutServerMetaErrors(crdvalidation.ValidateUpdateCustomResourceDefinitionStatus(in, oldIn), crdServerMetaUpdateErrors(crd, old))
}

// crdPairToInternal converts an update's new and old definitions.
func crdPairToInternal(crd, old *apiextensionsv1.CustomResourceDefinition) (in, oldIn *apiextensions.CustomResourceDefinition, ferr *field.Error) {
	if in, ferr = crdToInternal(crd); ferr != nil {
		return nil, nil, ferr
	}
	if oldIn, ferr = crdToInternal(old); ferr != nil {
		return nil, nil, ferr
	}
	return in, oldIn, nil
}

// crdServerMetaUpdateErrors are the metadata errors the API server itself reports for an
// update of a definition.
func crdServerMetaUpdateErrors(crd, old *apiextensionsv1.CustomResourceDefinition) field.ErrorList {
	errs := apivalidation.ValidateObjectMetaAccessorUpdate(&crd.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(errs, apivalidation.ValidateObjectMetaAccessor(&crd.ObjectMeta, false, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))...)
}

// withoutServerMetaErrors drops from errs those the API server reports already (it validates
// every object's metadata itself), so that no error shows twice.
func withoutServerMetaErrors(errs, server field.ErrorList) field.ErrorList {
	if len(server) == 0 {
		return errs
	}
	seen := make(map[string]bool, len(server))
	for _, e := range server {
		seen[e.Error()] = true
	}
	var out field.ErrorList
	for _, e := range errs {
		if !seen[e.Error()] {
			out = append(out, e)
		}
	}
	return out
}

// crdTable prints definitions as kube-apiserver's default table convertor does (the one
// apiextensions-apiserver uses for them): NAME and CREATED AT, the creation time in RFC 3339
// UTC.
func crdTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			{Name: "Created At", Type: "date", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]},
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			crd, ok := obj.(*apiextensionsv1.CustomResourceDefinition)
			if !ok {
				return nil, fmt.Errorf("customresourcedefinition table: unexpected object %T", obj)
			}
			return []interface{}{crd.Name, crd.CreationTimestamp.Time.UTC().Format(time.RFC3339)}, nil
		},
	}
}
