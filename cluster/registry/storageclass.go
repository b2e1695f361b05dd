package registry

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// StorageGroup is the storage.k8s.io API group: StorageClasses, CSIDrivers, CSINodes,
// VolumeAttachments and CSIStorageCapacities. drover runs no provisioner, attacher or CSI
// driver: these objects are stored and served as data for the clients that read them.
const StorageGroup = storagev1.GroupName

// Kubernetes' limits on a StorageClass's parameters (pkg/apis/storage/validation).
const (
	scMaxParameters    = 512
	scMaxParameterSize = 256 * (1 << 10) // 256 KiB of keys and values together
)

// The annotations that mark the default StorageClass, as kubectl and the
// DefaultStorageClass admission plugin read them.
const (
	StorageClassDefaultAnnotation     = "storageclass.kubernetes.io/is-default-class"
	storageClassBetaDefaultAnnotation = "storageclass.beta.kubernetes.io/is-default-class"
)

var (
	scReclaimPolicies = []string{string(corev1.PersistentVolumeReclaimDelete), string(corev1.PersistentVolumeReclaimRetain)}
	scBindingModes    = []string{string(storagev1.VolumeBindingImmediate), string(storagev1.VolumeBindingWaitForFirstConsumer)}
)

// storageClassResource describes the storage.k8s.io/v1 storageclasses resource.
func storageClassResource() *Resource {
	return &Resource{
		Group: StorageGroup, Version: "v1", Resource: "storageclasses", Kind: "StorageClass", SingularName: "storageclass",
		ShortNames: []string{"sc"},
		New:        func() runtime.Object { return &storagev1.StorageClass{} },
		NewList:    func() runtime.Object { return &storagev1.StorageClassList{} },
		Default:    func(obj runtime.Object) { scDefault(obj.(*storagev1.StorageClass)) },
		Validate:   func(obj runtime.Object) field.ErrorList { return scValidate(obj.(*storagev1.StorageClass)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			n, o := obj.(*storagev1.StorageClass), old.(*storagev1.StorageClass)
			return append(scValidate(n), scValidateUpdate(n, o)...)
		},
		Table: scTable(),
	}
}

// scDefault is Kubernetes' SetDefaults_StorageClass: reclaim policy Delete, binding mode
// Immediate.
func scDefault(sc *storagev1.StorageClass) {
	if sc.ReclaimPolicy == nil {
		p := corev1.PersistentVolumeReclaimDelete
		sc.ReclaimPolicy = &p
	}
	if sc.VolumeBindingMode == nil {
		m := storagev1.VolumeBindingImmediate
		sc.VolumeBindingMode = &m
	}
}

// scValidate is Kubernetes' ValidateStorageClass (the metadata is the server's).
func scValidate(sc *storagev1.StorageClass) field.ErrorList {
	errs := storageValidateProvisioner(sc.Provisioner, field.NewPath("provisioner"))
	errs = append(errs, scValidateParameters(sc.Parameters, field.NewPath("parameters"))...)
	if p := sc.ReclaimPolicy; p != nil && *p != "" && !slices.Contains(scReclaimPolicies, string(*p)) {
		errs = append(errs, field.NotSupported(field.NewPath("reclaimPolicy"), *p, scReclaimPolicies))
	}
	mp := field.NewPath("volumeBindingMode")
	switch m := sc.VolumeBindingMode; {
	case m == nil:
		errs = append(errs, field.Required(mp, ""))
	case !slices.Contains(scBindingModes, string(*m)):
		errs = append(errs, field.NotSupported(mp, *m, scBindingModes))
	}
	return append(errs, storageValidateAllowedTopologies(sc.AllowedTopologies, field.NewPath("allowedTopologies"))...)
}

// scValidateUpdate is Kubernetes' ValidateStorageClassUpdate: parameters, provisioner,
// reclaim policy and binding mode are fixed at creation.
func scValidateUpdate(sc, old *storagev1.StorageClass) field.ErrorList {
	var errs field.ErrorList
	if !reflect.DeepEqual(old.Parameters, sc.Parameters) {
		errs = append(errs, field.Forbidden(field.NewPath("parameters"), "updates to parameters are forbidden."))
	}
	if sc.Provisioner != old.Provisioner {
		errs = append(errs, field.Forbidden(field.NewPath("provisioner"), "updates to provisioner are forbidden."))
	}
	if !apiequality.Semantic.DeepEqual(sc.ReclaimPolicy, old.ReclaimPolicy) {
		errs = append(errs, field.Forbidden(field.NewPath("reclaimPolicy"), "updates to reclaimPolicy are forbidden."))
	}
	return append(errs, apivalidation.ValidateImmutableField(sc.VolumeBindingMode, old.VolumeBindingMode, field.NewPath("volumeBindingMode"))...)
}

// storageValidateProvisioner checks a provisioner (or driver) name: required, and a
// qualified name once lower-cased (Kubernetes' validateProvisioner).
func storageValidateProvisioner(name string, p *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, name)}
	}
	var errs field.ErrorList
	lower := strings.ToLower(name)
	for _, msg := range validation.IsQualifiedName(lower) {
		errs = append(errs, field.Invalid(p, lower, msg))
	}
	return errs
}

// scValidateParameters: at most 512 parameters of 256 KiB together, no empty key.
func scValidateParameters(params map[string]string, p *field.Path) field.ErrorList {
	if len(params) > scMaxParameters {
		return field.ErrorList{field.TooLong(p, "", scMaxParameters)}
	}
	var errs field.ErrorList
	size := 0
	for _, k := range sortedKeys(params) {
		if k == "" {
			errs = append(errs, field.Invalid(p, k, "field can not be empty."))
		}
		size += len(k) + len(params[k])
	}
	if size > scMaxParameterSize {
		errs = append(errs, field.TooLong(p, "", scMaxParameterSize))
	}
	return errs
}

// storageValidateAllowedTopologies is Kubernetes' validateAllowedTopologies: each term's
// expressions have a label-name key, unique within the term, and unique non-empty values;
// no two terms are the same.
func storageValidateAllowedTopologies(terms []corev1.TopologySelectorTerm, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	var seen []map[string]map[string]bool
	for i, term := range terms {
		tp := p.Index(i)
		exprs := map[string]map[string]bool{}
		ep := tp.Child("matchLabelExpressions")
		for j, req := range term.MatchLabelExpressions {
			rp := ep.Index(j)
			values := map[string]bool{}
			if len(req.Values) == 0 {
				errs = append(errs, field.Required(rp.Child("values"), ""))
			}
			for k, v := range req.Values {
				if values[v] {
					errs = append(errs, field.Duplicate(rp.Child("values").Index(k), v))
				}
				values[v] = true
			}
			errs = append(errs, metav1validation.ValidateLabelName(req.Key, rp.Child("key"))...)
			if _, dup := exprs[req.Key]; dup {
				errs = append(errs, field.Duplicate(rp.Child("key"), req.Key))
			}
			exprs[req.Key] = values
		}
		for _, prev := range seen {
			if reflect.DeepEqual(prev, exprs) {
				errs = append(errs, field.Duplicate(ep, ""))
			}
		}
		seen = append(seen, exprs)
	}
	return errs
}

// storageClassIsDefault reports the default-class annotation (either spelling), as kubectl's
// printer reads it.
func storageClassIsDefault(m metav1.ObjectMeta) bool {
	return m.Annotations[StorageClassDefaultAnnotation] == "true" || m.Annotations[storageClassBetaDefaultAnnotation] == "true"
}

// scTable prints storage classes as kubectl v1.32 does: NAME (with " (default)" for the
// default class) PROVISIONER RECLAIMPOLICY VOLUMEBINDINGMODE ALLOWVOLUMEEXPANSION AGE.
func scTable() *Table {
	doc := storagev1.StorageClass{}.SwaggerDoc()
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("Provisioner", "string", doc["provisioner"], 0),
			column("ReclaimPolicy", "string", doc["reclaimPolicy"], 0),
			column("VolumeBindingMode", "string", doc["volumeBindingMode"], 0),
			column("AllowVolumeExpansion", "string", doc["allowVolumeExpansion"], 0),
			ageColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			sc, ok := obj.(*storagev1.StorageClass)
			if !ok {
				return nil, fmt.Errorf("storageclass table: unexpected object %T", obj)
			}
			name := sc.Name
			if storageClassIsDefault(sc.ObjectMeta) {
				name += " (default)"
			}
			policy := string(corev1.PersistentVolumeReclaimDelete)
			if sc.ReclaimPolicy != nil {
				policy = string(*sc.ReclaimPolicy)
			}
			mode := string(storagev1.VolumeBindingImmediate)
			if sc.VolumeBindingMode != nil {
				mode = string(*sc.VolumeBindingMode)
			}
			expand := sc.AllowVolumeExpansion != nil && *sc.AllowVolumeExpansion
			return []interface{}{name, sc.Provisioner, policy, mode, expand, translateTimestampSince(sc.CreationTimestamp)}, nil
		},
	}
}
