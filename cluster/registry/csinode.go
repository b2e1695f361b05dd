package registry

import (
	"fmt"

	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// csiNodeIDMaxLength is the longest node ID of a CSINode driver (Kubernetes' strategy allows
// the longer limit, 256).
const csiNodeIDMaxLength = 256

// csiNodeResource describes the storage.k8s.io/v1 csinodes resource. A kubelet writes its
// node's CSINode as CSI drivers register; drover's node agent registers none, so CSINodes
// exist only as clients create them.
func csiNodeResource() *Resource {
	return &Resource{
		Group: StorageGroup, Version: "v1", Resource: "csinodes", Kind: "CSINode", SingularName: "csinode",
		New:      func() runtime.Object { return &storagev1.CSINode{} },
		NewList:  func() runtime.Object { return &storagev1.CSINodeList{} },
		Validate: func(obj runtime.Object) field.ErrorList { return csiNodeValidate(obj.(*storagev1.CSINode)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return csiNodeValidateUpdate(obj.(*storagev1.CSINode), old.(*storagev1.CSINode))
		},
		Table: csiNodeTable(),
	}
}

// csiNodeValidate is Kubernetes' ValidateCSINode: each driver has a valid CSI driver name
// (unique in the list), a node ID of at most 256 characters, a non-negative allocatable count
// and unique, qualified topology keys.
func csiNodeValidate(n *storagev1.CSINode) field.ErrorList {
	var errs field.ErrorList
	dp := field.NewPath("spec", "drivers")
	names := map[string]bool{}
	for i, d := range n.Spec.Drivers {
		p := dp.Index(i)
		errs = append(errs, storageValidateCSIDriverName(d.Name, p.Child("name"))...)
		if d.NodeID == "" {
			errs = append(errs, field.Required(p.Child("nodeID"), d.NodeID))
		}
		if len(d.NodeID) > csiNodeIDMaxLength {
			errs = append(errs, field.Invalid(p.Child("nodeID"), d.NodeID, fmt.Sprintf("must be %d characters or less", csiNodeIDMaxLength)))
		}
		if a := d.Allocatable; a != nil && a.Count != nil && *a.Count < 0 {
			errs = append(errs, field.Invalid(p.Child("allocatable", "count"), int64(*a.Count), "must be greater than or equal to 0"))
		}
		if names[d.Name] {
			errs = append(errs, field.Duplicate(p.Child("name"), d.Name))
		}
		names[d.Name] = true
		keys := map[string]bool{}
		for _, k := range d.TopologyKeys {
			if k == "" {
				errs = append(errs, field.Required(p, k))
			}
			if keys[k] {
				errs = append(errs, field.Duplicate(p, k))
			}
			keys[k] = true
			for _, msg := range validation.IsQualifiedName(k) {
				errs = append(errs, field.Invalid(p, k, msg))
			}
		}
	}
	return errs
}

// csiNodeValidateUpdate: drivers may be added and removed, but a driver present before and
// after may not change (Kubernetes' ValidateCSINodeUpdate).
func csiNodeValidateUpdate(n, old *storagev1.CSINode) field.ErrorList {
	errs := csiNodeValidate(n)
	for _, od := range old.Spec.Drivers {
		for _, nd := range n.Spec.Drivers {
			if od.Name == nd.Name && !apiequality.Semantic.DeepEqual(od, nd) {
				errs = append(errs, field.Invalid(field.NewPath("CSINodeDriver"), nd, "field is immutable"))
			}
		}
	}
	return errs
}

// csiNodeTable prints CSI nodes as kubectl v1.32 does: NAME DRIVERS AGE.
func csiNodeTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("Drivers", "integer", "Drivers indicates the number of CSI drivers registered on the node", 0),
			ageColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			n, ok := obj.(*storagev1.CSINode)
			if !ok {
				return nil, fmt.Errorf("csinode table: unexpected object %T", obj)
			}
			return []interface{}{n.Name, int64(len(n.Spec.Drivers)), translateTimestampSince(n.CreationTimestamp)}, nil
		},
	}
}
