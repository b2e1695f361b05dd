package registry

import (
	"fmt"
	"path"
	"reflect"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	pvAccessModes = []string{string(corev1.ReadOnlyMany), string(corev1.ReadWriteMany),
		string(corev1.ReadWriteOnce), string(corev1.ReadWriteOncePod)}
	pvReclaimPolicies = []string{string(corev1.PersistentVolumeReclaimDelete),
		string(corev1.PersistentVolumeReclaimRecycle), string(corev1.PersistentVolumeReclaimRetain)}
	pvVolumeModes = []string{string(corev1.PersistentVolumeBlock), string(corev1.PersistentVolumeFilesystem)}
)

// pvBetaStorageClassAnnotation is the legacy way to name a storage class.
const pvBetaStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class"

// pvResource describes the persistentvolumes resource.
func pvResource() *Resource {
	return &Resource{
		Version: "v1", Resource: "persistentvolumes", Kind: "PersistentVolume", SingularName: "persistentvolume",
		ShortNames: []string{"pv"}, Subresources: []string{"status"}, HasStatus: true,
		New:     func() runtime.Object { return &corev1.PersistentVolume{} },
		NewList: func() runtime.Object { return &corev1.PersistentVolumeList{} },
		Default: func(obj runtime.Object) { pvDefault(obj.(*corev1.PersistentVolume)) },
		PrepareForCreate: func(obj runtime.Object) {
			pv := obj.(*corev1.PersistentVolume)
			now := metav1.Now()
			pv.Status = corev1.PersistentVolumeStatus{Phase: corev1.VolumePending, LastPhaseTransitionTime: &now}
		},
		Validate: func(obj runtime.Object) field.ErrorList { return pvValidate(obj.(*corev1.PersistentVolume)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return pvValidateUpdate(obj.(*corev1.PersistentVolume), old.(*corev1.PersistentVolume))
		},
		Table: pvTable(),
	}
}

// pvDefault applies Kubernetes' v1 defaults: phase Pending, reclaim policy Retain, volume
// mode Filesystem.
func pvDefault(pv *corev1.PersistentVolume) {
	if pv.Status.Phase == "" {
		pv.Status.Phase = corev1.VolumePending
	}
	if pv.Spec.PersistentVolumeReclaimPolicy == "" {
		pv.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimRetain
	}
	if pv.Spec.VolumeMode == nil {
		mode := corev1.PersistentVolumeFilesystem
		pv.Spec.VolumeMode = &mode
	}
}

// pvValidateAccessModes checks access modes are present, known, and that ReadWriteOncePod
// stands alone; required is the message of the Required error.
func pvValidateAccessModes(modes []corev1.PersistentVolumeAccessMode, required string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(modes) == 0 {
		errs = append(errs, field.Required(p, required))
	}
	rwop, other := false, false
	for _, m := range modes {
		if !slices.Contains(pvAccessModes, string(m)) {
			errs = append(errs, field.NotSupported(p, m, pvAccessModes))
		}
		if m == corev1.ReadWriteOncePod {
			rwop = true
		} else {
			other = true
		}
	}
	if rwop && other {
		errs = append(errs, field.Forbidden(p, "may not use ReadWriteOncePod with other access modes"))
	}
	return errs
}

// pvValidateVolumeMode checks an optional volume mode.
func pvValidateVolumeMode(mode *corev1.PersistentVolumeMode, p *field.Path) field.ErrorList {
	if mode != nil && !slices.Contains(pvVolumeModes, string(*mode)) {
		return field.ErrorList{field.NotSupported(p, *mode, pvVolumeModes)}
	}
	return nil
}

// pvValidatePositive checks a quantity is greater than zero.
func pvValidatePositive(q resource.Quantity, p *field.Path) field.ErrorList {
	if q.Sign() <= 0 {
		return field.ErrorList{field.Invalid(p, q.String(), "must be greater than zero")}
	}
	return nil
}

// pvValidate checks a persistent volume as Kubernetes' ValidatePersistentVolumeSpec does for
// the sources drover serves (hostPath, local, nfs).
func pvValidate(pv *corev1.PersistentVolume) field.ErrorList {
	spec := &pv.Spec
	sp := field.NewPath("spec")
	errs := pvValidateAccessModes(spec.AccessModes, "", sp.Child("accessModes"))
	capPath := sp.Child("capacity")
	if len(spec.Capacity) == 0 {
		errs = append(errs, field.Required(capPath, ""))
	}
	if _, ok := spec.Capacity[corev1.ResourceStorage]; !ok || len(spec.Capacity) > 1 {
		errs = append(errs, field.NotSupported(capPath, spec.Capacity, []string{string(corev1.ResourceStorage)}))
	}
	for _, r := range sortedKeys(spec.Capacity) {
		errs = append(errs, pvValidatePositive(spec.Capacity[corev1.ResourceName(r)], capPath.Key(r))...)
	}
	if rp := spec.PersistentVolumeReclaimPolicy; rp != "" && !slices.Contains(pvReclaimPolicies, string(rp)) {
		errs = append(errs, field.NotSupported(sp.Child("persistentVolumeReclaimPolicy"), rp, pvReclaimPolicies))
	}
	errs = append(errs, pvValidateSource(spec, sp)...)
	if spec.StorageClassName != "" {
		errs = append(errs, pvValidateClassName(spec.StorageClassName, sp.Child("storageClassName"))...)
	}
	return append(errs, pvValidateVolumeMode(spec.VolumeMode, sp.Child("volumeMode"))...)
}

// pvValidateSource checks that exactly one volume source is set and that it is valid.
func pvValidateSource(spec *corev1.PersistentVolumeSpec, sp *field.Path) field.ErrorList {
	var errs field.ErrorList
	sources := pvSetSources(&spec.PersistentVolumeSource)
	if len(sources) == 0 {
		return append(errs, field.Required(sp, "must specify a volume type"))
	}
	for _, name := range sources[1:] {
		errs = append(errs, field.Forbidden(sp.Child(name), "may not specify more than 1 volume type"))
	}
	switch src := &spec.PersistentVolumeSource; sources[0] {
	case "hostPath":
		errs = append(errs, pvValidateLocalPath(src.HostPath.Path, sp.Child("hostPath", "path"))...)
		if path.Clean(src.HostPath.Path) == "/" && spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimRecycle {
			errs = append(errs, field.Forbidden(sp.Child("persistentVolumeReclaimPolicy"), "may not be 'recycle' for a hostPath mount of '/'"))
		}
	case "local":
		errs = append(errs, pvValidateLocalPath(src.Local.Path, sp.Child("local", "path"))...)
		if spec.NodeAffinity == nil || spec.NodeAffinity.Required == nil {
			errs = append(errs, field.Required(sp.Child("nodeAffinity"), "Local volume requires node affinity"))
		}
	case "nfs":
		if src.NFS.Server == "" {
			errs = append(errs, field.Required(sp.Child("nfs", "server"), ""))
		}
		if src.NFS.Path == "" {
			errs = append(errs, field.Required(sp.Child("nfs", "path"), ""))
		}
		if !path.IsAbs(src.NFS.Path) {
			errs = append(errs, field.Invalid(sp.Child("nfs", "path"), src.NFS.Path, "must be an absolute path"))
		}
	}
	return errs
}

// pvSetSources returns the JSON names of the volume sources set, in declaration order.
func pvSetSources(src *corev1.PersistentVolumeSource) []string {
	var names []string
	v := reflect.ValueOf(src).Elem()
	for i := 0; i < v.NumField(); i++ {
		if !v.Field(i).IsNil() {
			names = append(names, strings.Split(v.Type().Field(i).Tag.Get("json"), ",")[0])
		}
	}
	return names
}

// pvValidateLocalPath checks a host path is set and has no ".." element.
func pvValidateLocalPath(p string, fp *field.Path) field.ErrorList {
	if p == "" {
		return field.ErrorList{field.Required(fp, "")}
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return field.ErrorList{field.Invalid(fp, p, "must not contain '..'")}
		}
	}
	return nil
}

// pvValidateClassName checks a storage class name is a DNS subdomain.
func pvValidateClassName(name string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range apivalidation.NameIsDNSSubdomain(name, false) {
		errs = append(errs, field.Invalid(p, name, msg))
	}
	return errs
}

// pvValidateUpdate keeps the volume source and volume mode.
func pvValidateUpdate(pv, old *corev1.PersistentVolume) field.ErrorList {
	errs := pvValidate(pv)
	if !reflect.DeepEqual(pv.Spec.PersistentVolumeSource, old.Spec.PersistentVolumeSource) {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "persistentvolumesource"),
			"spec.persistentvolumesource is immutable after creation"))
	}
	return append(errs, apivalidation.ValidateImmutableField(pv.Spec.VolumeMode, old.Spec.VolumeMode, field.NewPath("spec", "volumeMode"))...)
}

// pvAccessModesString renders access modes as "RWO,ROX,RWX,RWOP".
func pvAccessModesString(modes []corev1.PersistentVolumeAccessMode) string {
	var out []string
	for _, m := range []struct {
		mode  corev1.PersistentVolumeAccessMode
		short string
	}{{corev1.ReadWriteOnce, "RWO"}, {corev1.ReadOnlyMany, "ROX"}, {corev1.ReadWriteMany, "RWX"}, {corev1.ReadWriteOncePod, "RWOP"}} {
		if slices.Contains(modes, m.mode) {
			out = append(out, m.short)
		}
	}
	return strings.Join(out, ",")
}

// pvUnsetOr returns *s, or "<unset>" for nil.
func pvUnsetOr[T ~string](s *T) string {
	if s == nil {
		return "<unset>"
	}
	return string(*s)
}

// pvTable prints persistent volumes as kubectl v1.32 does.
func pvTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("Capacity", "string", corev1.PersistentVolumeSpec{}.SwaggerDoc()["capacity"], 0),
			column("Access Modes", "string", corev1.PersistentVolumeSpec{}.SwaggerDoc()["accessModes"], 0),
			column("Reclaim Policy", "string", corev1.PersistentVolumeSpec{}.SwaggerDoc()["persistentVolumeReclaimPolicy"], 0),
			column("Status", "string", corev1.PersistentVolumeStatus{}.SwaggerDoc()["phase"], 0),
			column("Claim", "string", corev1.PersistentVolumeSpec{}.SwaggerDoc()["claimRef"], 0),
			column("StorageClass", "string", "StorageClass of the pv", 0),
			column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv", 0),
			column("Reason", "string", corev1.PersistentVolumeStatus{}.SwaggerDoc()["reason"], 0),
			ageColumn,
			column("VolumeMode", "string", corev1.PersistentVolumeSpec{}.SwaggerDoc()["volumeMode"], 1),
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			pv, ok := obj.(*corev1.PersistentVolume)
			if !ok {
				return nil, fmt.Errorf("persistentvolume table: unexpected object %T", obj)
			}
			claim := ""
			if ref := pv.Spec.ClaimRef; ref != nil {
				claim = ref.Namespace + "/" + ref.Name
			}
			phase := string(pv.Status.Phase)
			if pv.DeletionTimestamp != nil {
				phase = "Terminating"
			}
			class := pv.Spec.StorageClassName
			if a, ok := pv.Annotations[pvBetaStorageClassAnnotation]; ok {
				class = a
			}
			size := pv.Spec.Capacity[corev1.ResourceStorage]
			return []interface{}{pv.Name, size.String(), pvAccessModesString(pv.Spec.AccessModes),
				string(pv.Spec.PersistentVolumeReclaimPolicy), phase, claim, class,
				pvUnsetOr(pv.Spec.VolumeAttributesClassName), pv.Status.Reason,
				translateTimestampSince(pv.CreationTimestamp), pvUnsetOr(pv.Spec.VolumeMode)}, nil
		},
	}
}
