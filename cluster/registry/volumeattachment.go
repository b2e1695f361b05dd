package registry

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Kubernetes' limits on a VolumeAttachment's status.
const (
	vaMaxMetadataSize     = 256 * (1 << 10) // attachmentMetadata keys and values together
	vaMaxErrorMessageSize = 1024
)

// volumeAttachmentResource describes the storage.k8s.io/v1 volumeattachments resource and
// its status subresource. An external attacher (a CSI driver's controller) would attach the
// volume and set status.attached; drover runs none, so the object is data.
func volumeAttachmentResource() *Resource {
	return &Resource{
		Group: StorageGroup, Version: "v1", Resource: "volumeattachments", Kind: "VolumeAttachment", SingularName: "volumeattachment",
		Subresources: []string{"status"}, HasStatus: true,
		New:     func() runtime.Object { return &storagev1.VolumeAttachment{} },
		NewList: func() runtime.Object { return &storagev1.VolumeAttachmentList{} },
		PrepareForCreate: func(obj runtime.Object) {
			// The status is the attacher's: a new attachment starts without one.
			obj.(*storagev1.VolumeAttachment).Status = storagev1.VolumeAttachmentStatus{}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			va := obj.(*storagev1.VolumeAttachment)
			return append(vaValidate(va), vaValidateV1(va)...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return vaValidateUpdate(obj.(*storagev1.VolumeAttachment), old.(*storagev1.VolumeAttachment))
		},
		PrepareForSubresourceUpdate: func(sub string, obj, old runtime.Object) {
			// Kubernetes' volumeAttachmentStatusStrategy: the status subresource changes
			// the status only, not labels, annotations, finalizers or owners.
			va, o := obj.(*storagev1.VolumeAttachment), old.(*storagev1.VolumeAttachment)
			metav1.ResetObjectMetaForStatus(&va.ObjectMeta, &o.ObjectMeta)
		},
		ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList {
			return vaValidateUpdate(obj.(*storagev1.VolumeAttachment), old.(*storagev1.VolumeAttachment))
		},
		Table: vaTable(),
	}
}

// vaValidate is Kubernetes' ValidateVolumeAttachment: an attacher, exactly one source (a
// PersistentVolume's name or an inline CSI PersistentVolume spec), a node name, and a status
// within its limits.
func vaValidate(va *storagev1.VolumeAttachment) field.ErrorList {
	sp := field.NewPath("spec")
	var errs field.ErrorList
	if va.Spec.Attacher == "" {
		errs = append(errs, field.Required(sp.Child("attacher"), ""))
	}
	errs = append(errs, vaValidateSource(&va.Spec.Source, sp.Child("source"))...)
	for _, msg := range apivalidation.NameIsDNSSubdomain(va.Spec.NodeName, false) {
		errs = append(errs, field.Invalid(sp.Child("nodeName"), va.Spec.NodeName, msg))
	}
	st, stp := &va.Status, field.NewPath("status")
	size := 0
	for k, v := range st.AttachmentMetadata {
		size += len(k) + len(v)
	}
	if size > vaMaxMetadataSize {
		errs = append(errs, field.TooLong(stp.Child("attachmentMetadata"), "", vaMaxMetadataSize))
	}
	for _, e := range []struct {
		err  *storagev1.VolumeError
		name string
	}{{st.AttachError, "attachError"}, {st.DetachError, "detachError"}} {
		if e.err != nil && len(e.err.Message) > vaMaxErrorMessageSize {
			// Kubernetes reports the metadata limit here.
			errs = append(errs, field.TooLong(stp.Child(e.name, "message"), "", vaMaxMetadataSize))
		}
	}
	return errs
}

// vaValidateV1 is Kubernetes' ValidateVolumeAttachmentV1, the stricter checks of new v1
// objects: the attacher is a CSI driver name and the PersistentVolume's name a DNS subdomain.
func vaValidateV1(va *storagev1.VolumeAttachment) field.ErrorList {
	errs := storageValidateCSIDriverName(va.Spec.Attacher, field.NewPath("spec.attacher"))
	if pv := va.Spec.Source.PersistentVolumeName; pv != nil {
		for _, msg := range apivalidation.NameIsDNSSubdomain(*pv, false) {
			errs = append(errs, field.Invalid(field.NewPath("spec.source.persistentVolumeName"), *pv, msg))
		}
	}
	return errs
}

// vaValidateSource: exactly one of persistentVolumeName and inlineVolumeSpec.
func vaValidateSource(src *storagev1.VolumeAttachmentSource, p *field.Path) field.ErrorList {
	const one = "must specify exactly one of inlineVolumeSpec and persistentVolumeName"
	switch {
	case src.InlineVolumeSpec == nil && src.PersistentVolumeName == nil:
		return field.ErrorList{field.Required(p, one)}
	case src.InlineVolumeSpec != nil && src.PersistentVolumeName != nil:
		return field.ErrorList{field.Forbidden(p, one)}
	case src.PersistentVolumeName != nil:
		if *src.PersistentVolumeName == "" {
			return field.ErrorList{field.Required(p.Child("persistentVolumeName"), "must specify non empty persistentVolumeName")}
		}
		return nil
	default:
		return vaValidateInlineSpec(src.InlineVolumeSpec, p.Child("inlineVolumeSpec"))
	}
}

// vaValidateInlineSpec is Kubernetes' ValidatePersistentVolumeSpec for an inline volume (a
// CSI migration's): a csi source and access modes, no claimRef, capacity or node affinity,
// reclaim policy Retain if any.
func vaValidateInlineSpec(spec *corev1.PersistentVolumeSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.ClaimRef != nil {
		errs = append(errs, field.Forbidden(p.Child("claimRef"), "may not be specified in the context of inline volumes"))
	}
	if len(spec.Capacity) != 0 {
		errs = append(errs, field.Forbidden(p.Child("capacity"), "may not be specified in the context of inline volumes"))
	}
	if spec.CSI == nil {
		errs = append(errs, field.Required(p.Child("csi"), "has to be specified in the context of inline volumes"))
	}
	errs = append(errs, pvValidateAccessModes(spec.AccessModes, "", p.Child("accessModes"))...)
	if rp := spec.PersistentVolumeReclaimPolicy; rp != "" && rp != corev1.PersistentVolumeReclaimRetain {
		errs = append(errs, field.Forbidden(p.Child("persistentVolumeReclaimPolicy"), "may only be "+string(corev1.PersistentVolumeReclaimRetain)+" in the context of inline volumes"))
	}
	if spec.NodeAffinity != nil {
		errs = append(errs, field.Forbidden(p.Child("nodeAffinity"), "may not be specified in the context of inline volumes"))
	}
	sources := pvSetSources(&spec.PersistentVolumeSource)
	if len(sources) > 1 {
		for _, name := range sources[1:] {
			errs = append(errs, field.Forbidden(p.Child(name), "may not specify more than 1 volume type"))
		}
	}
	if csi := spec.CSI; csi != nil {
		cp := p.Child("csi")
		errs = append(errs, storageValidateCSIDriverName(csi.Driver, cp.Child("driver"))...)
		if csi.VolumeHandle == "" {
			errs = append(errs, field.Required(cp.Child("volumeHandle"), ""))
		}
	}
	if spec.StorageClassName != "" {
		errs = append(errs, pvValidateClassName(spec.StorageClassName, p.Child("storageClassName"))...)
	}
	return append(errs, pvValidateVolumeMode(spec.VolumeMode, p.Child("volumeMode"))...)
}

// vaValidateUpdate is Kubernetes' ValidateVolumeAttachmentUpdate: the spec is read-only.
func vaValidateUpdate(va, old *storagev1.VolumeAttachment) field.ErrorList {
	errs := vaValidate(va)
	if !apiequality.Semantic.DeepEqual(old.Spec, va.Spec) {
		errs = append(errs, field.Invalid(field.NewPath("spec"), va.Spec, "field is immutable"))
	}
	return errs
}

// vaTable prints volume attachments as kubectl v1.32 does: NAME ATTACHER PV NODE ATTACHED AGE.
func vaTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			{Name: "Attacher", Type: "string", Format: "name", Description: storagev1.VolumeAttachmentSpec{}.SwaggerDoc()["attacher"]},
			column("PV", "string", storagev1.VolumeAttachmentSource{}.SwaggerDoc()["persistentVolumeName"], 0),
			column("Node", "string", storagev1.VolumeAttachmentSpec{}.SwaggerDoc()["nodeName"], 0),
			column("Attached", "boolean", storagev1.VolumeAttachmentStatus{}.SwaggerDoc()["attached"], 0),
			ageColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			va, ok := obj.(*storagev1.VolumeAttachment)
			if !ok {
				return nil, fmt.Errorf("volumeattachment table: unexpected object %T", obj)
			}
			pv := ""
			if va.Spec.Source.PersistentVolumeName != nil {
				pv = *va.Spec.Source.PersistentVolumeName
			}
			return []interface{}{va.Name, va.Spec.Attacher, pv, va.Spec.NodeName, va.Status.Attached,
				translateTimestampSince(va.CreationTimestamp)}, nil
		},
	}
}
