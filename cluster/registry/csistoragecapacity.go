package registry

import (
	"fmt"

	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// csiStorageCapacityResource describes the namespaced storage.k8s.io/v1 csistoragecapacities
// resource. A CSI driver's external-provisioner publishes them for the scheduler; drover runs
// neither, and its scheduler does not read them.
func csiStorageCapacityResource() *Resource {
	return &Resource{
		Group: StorageGroup, Version: "v1", Resource: "csistoragecapacities", Kind: "CSIStorageCapacity",
		SingularName: "csistoragecapacity", Namespaced: true,
		New:      func() runtime.Object { return &storagev1.CSIStorageCapacity{} },
		NewList:  func() runtime.Object { return &storagev1.CSIStorageCapacityList{} },
		Validate: func(obj runtime.Object) field.ErrorList { return cscValidate(obj.(*storagev1.CSIStorageCapacity)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return cscValidateUpdate(obj.(*storagev1.CSIStorageCapacity), old.(*storagev1.CSIStorageCapacity))
		},
		Table: cscTable(),
	}
}

// cscValidate is Kubernetes' ValidateCSIStorageCapacity: a valid node topology selector, a
// storage class name (a DNS subdomain, so required) and a non-negative capacity.
func cscValidate(c *storagev1.CSIStorageCapacity) field.ErrorList {
	errs := metav1validation.ValidateLabelSelector(c.NodeTopology, metav1validation.LabelSelectorValidationOptions{}, field.NewPath("nodeTopology"))
	for _, msg := range apivalidation.NameIsDNSSubdomain(c.StorageClassName, false) {
		errs = append(errs, field.Invalid(field.NewPath("storageClassName"), c.StorageClassName, msg))
	}
	if c.Capacity != nil && c.Capacity.Sign() < 0 {
		errs = append(errs, field.Invalid(field.NewPath("capacity"), c.Capacity.String(), "must be greater than or equal to 0"))
	}
	return errs
}

// cscValidateUpdate is Kubernetes' ValidateCSIStorageCapacityUpdate: the node topology and the
// storage class (the inputs of the driver's GetCapacity) are immutable; capacity and
// maximumVolumeSize change.
func cscValidateUpdate(c, old *storagev1.CSIStorageCapacity) field.ErrorList {
	errs := cscValidate(c)
	if !apiequality.Semantic.DeepEqual(c.NodeTopology, old.NodeTopology) {
		errs = append(errs, field.Invalid(field.NewPath("nodeTopology"), c.NodeTopology, "field is immutable"))
	}
	if c.StorageClassName != old.StorageClassName {
		errs = append(errs, field.Invalid(field.NewPath("storageClassName"), c.StorageClassName, "field is immutable"))
	}
	return errs
}

// cscTable prints CSI storage capacities as kubectl v1.32 does: NAME STORAGECLASSNAME
// CAPACITY (no AGE column).
func cscTable() *Table {
	doc := storagev1.CSIStorageCapacity{}.SwaggerDoc()
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("StorageClassName", "string", doc["storageClassName"], 0),
			column("Capacity", "string", doc["capacity"], 0),
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			c, ok := obj.(*storagev1.CSIStorageCapacity)
			if !ok {
				return nil, fmt.Errorf("csistoragecapacity table: unexpected object %T", obj)
			}
			capacity := "<unset>"
			if c.Capacity != nil {
				capacity = c.Capacity.String()
			}
			return []interface{}{c.Name, c.StorageClassName, capacity}, nil
		},
	}
}
