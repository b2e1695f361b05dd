package registry

import (
	"fmt"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// pvcResource describes the persistentvolumeclaims resource.
func pvcResource() *Resource {
	return &Resource{
		Version: "v1", Resource: "persistentvolumeclaims", Kind: "PersistentVolumeClaim",
		SingularName: "persistentvolumeclaim", ShortNames: []string{"pvc"}, Namespaced: true,
		Subresources: []string{"status"}, HasStatus: true,
		New:     func() runtime.Object { return &corev1.PersistentVolumeClaim{} },
		NewList: func() runtime.Object { return &corev1.PersistentVolumeClaimList{} },
		Default: func(obj runtime.Object) { pvcDefault(obj.(*corev1.PersistentVolumeClaim)) },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*corev1.PersistentVolumeClaim).Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}
		},
		Validate: func(obj runtime.Object) field.ErrorList { return pvcValidate(obj.(*corev1.PersistentVolumeClaim)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return pvcValidateUpdate(obj.(*corev1.PersistentVolumeClaim), old.(*corev1.PersistentVolumeClaim))
		},
		Table: pvcTable(),
	}
}

// pvcDefault applies Kubernetes' v1 defaults: phase Pending, volume mode Filesystem.
func pvcDefault(pvc *corev1.PersistentVolumeClaim) {
	if pvc.Status.Phase == "" {
		pvc.Status.Phase = corev1.ClaimPending
	}
	if pvc.Spec.VolumeMode == nil {
		mode := corev1.PersistentVolumeFilesystem
		pvc.Spec.VolumeMode = &mode
	}
}

// pvcValidate checks access modes, the storage request, selector, class and volume mode.
func pvcValidate(pvc *corev1.PersistentVolumeClaim) field.ErrorList {
	spec := &pvc.Spec
	sp := field.NewPath("spec")
	errs := pvValidateAccessModes(spec.AccessModes, "at least 1 access mode is required", sp.Child("accessModes"))
	if spec.Selector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(spec.Selector,
			metav1validation.LabelSelectorValidationOptions{}, sp.Child("selector"))...)
	}
	storagePath := sp.Child("resources").Key(string(corev1.ResourceStorage))
	if q, ok := spec.Resources.Requests[corev1.ResourceStorage]; !ok {
		errs = append(errs, field.Required(storagePath, ""))
	} else {
		errs = append(errs, pvValidatePositive(q, storagePath)...)
	}
	if spec.StorageClassName != nil && *spec.StorageClassName != "" {
		errs = append(errs, pvValidateClassName(*spec.StorageClassName, sp.Child("storageClassName"))...)
	}
	return append(errs, pvValidateVolumeMode(spec.VolumeMode, sp.Child("volumeMode"))...)
}

// pvcValidateUpdate keeps the spec as Kubernetes does: volumeName may be set once, and a
// bound claim may grow its storage request; nothing else changes.
func pvcValidateUpdate(pvc, old *corev1.PersistentVolumeClaim) field.ErrorList {
	errs := pvcValidate(pvc)
	newSpec, oldSpec := pvc.Spec.DeepCopy(), old.Spec.DeepCopy()
	if oldSpec.VolumeName == "" {
		oldSpec.VolumeName = newSpec.VolumeName
	}
	if pvc.Status.Phase == corev1.ClaimBound && newSpec.Resources.Requests != nil {
		if q, ok := oldSpec.Resources.Requests[corev1.ResourceStorage]; ok {
			newSpec.Resources.Requests[corev1.ResourceStorage] = q
		}
	}
	if !reflect.DeepEqual(newSpec, oldSpec) {
		errs = append(errs, field.Forbidden(field.NewPath("spec"),
			"spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"))
	}
	oldSize, newSize := old.Spec.Resources.Requests[corev1.ResourceStorage], pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if newSize.Cmp(oldSize) < 0 {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "resources", "requests", "storage"),
			"field can not be less than previous value"))
	}
	return errs
}

// pvcTable prints claims as kubectl v1.32 does.
func pvcTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("Status", "string", corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["phase"], 0),
			column("Volume", "string", corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()["volumeName"], 0),
			column("Capacity", "string", corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["capacity"], 0),
			column("Access Modes", "string", corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["accessModes"], 0),
			column("StorageClass", "string", "StorageClass of the pvc", 0),
			column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc", 0),
			ageColumn,
			column("VolumeMode", "string", corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()["volumeMode"], 1),
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			pvc, ok := obj.(*corev1.PersistentVolumeClaim)
			if !ok {
				return nil, fmt.Errorf("persistentvolumeclaim table: unexpected object %T", obj)
			}
			phase := string(pvc.Status.Phase)
			if pvc.DeletionTimestamp != nil {
				phase = "Terminating"
			}
			capacity, modes := "", ""
			if pvc.Spec.VolumeName != "" {
				modes = pvAccessModesString(pvc.Status.AccessModes)
				q := pvc.Status.Capacity[corev1.ResourceStorage]
				capacity = q.String()
			}
			class := ""
			if a, ok := pvc.Annotations[pvBetaStorageClassAnnotation]; ok {
				class = a
			} else if pvc.Spec.StorageClassName != nil {
				class = *pvc.Spec.StorageClassName
			}
			return []interface{}{pvc.Name, phase, pvc.Spec.VolumeName, capacity, modes, class,
				pvUnsetOr(pvc.Spec.VolumeAttributesClassName), translateTimestampSince(pvc.CreationTimestamp),
				pvUnsetOr(pvc.Spec.VolumeMode)}, nil
		},
	}
}
