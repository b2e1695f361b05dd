package registry

import (
	"fmt"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// cmResource describes the configmaps resource.
func cmResource() *Resource {
	return &Resource{
		Version: "v1", Resource: "configmaps", Kind: "ConfigMap", SingularName: "configmap",
		ShortNames: []string{"cm"}, Namespaced: true,
		New:      func() runtime.Object { return &corev1.ConfigMap{} },
		NewList:  func() runtime.Object { return &corev1.ConfigMapList{} },
		Validate: func(obj runtime.Object) field.ErrorList { return cmValidate(obj.(*corev1.ConfigMap)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return cmValidateUpdate(obj.(*corev1.ConfigMap), old.(*corev1.ConfigMap))
		},
		Table: cmTable(),
	}
}

// cmValidate checks keys (valid, not in both data and binaryData) and the total size.
func cmValidate(cm *corev1.ConfigMap) field.ErrorList {
	var errs field.ErrorList
	size := 0
	for _, k := range sortedKeys(cm.Data) {
		errs = append(errs, cmValidateKey(k, field.NewPath("data").Key(k))...)
		if _, dup := cm.BinaryData[k]; dup {
			errs = append(errs, field.Invalid(field.NewPath("data").Key(k), k, "duplicate of key present in binaryData"))
		}
		size += len(cm.Data[k])
	}
	for _, k := range sortedKeys(cm.BinaryData) {
		errs = append(errs, cmValidateKey(k, field.NewPath("binaryData").Key(k))...)
		if _, dup := cm.Data[k]; dup {
			errs = append(errs, field.Invalid(field.NewPath("binaryData").Key(k), k, "duplicate of key present in data"))
		}
		size += len(cm.BinaryData[k])
	}
	if size > MaxSecretSize {
		errs = append(errs, field.TooLong(field.NewPath(""), "", MaxSecretSize))
	}
	return errs
}

// cmValidateKey checks one key: alphanumerics, '-', '_' or '.'.
func cmValidateKey(k string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsConfigMapKey(k) {
		errs = append(errs, field.Invalid(path, k, msg))
	}
	return errs
}

// cmValidateUpdate keeps the data of an immutable config map.
func cmValidateUpdate(cm, old *corev1.ConfigMap) field.ErrorList {
	var errs field.ErrorList
	if old.Immutable != nil && *old.Immutable {
		forbid := func(name string) {
			errs = append(errs, field.Forbidden(field.NewPath(name), "field is immutable when `immutable` is set"))
		}
		if cm.Immutable == nil || !*cm.Immutable {
			forbid("immutable")
		}
		if !reflect.DeepEqual(cm.Data, old.Data) {
			forbid("data")
		}
		if !reflect.DeepEqual(cm.BinaryData, old.BinaryData) {
			forbid("binaryData")
		}
	}
	return append(errs, cmValidate(cm)...)
}

// cmTable prints config maps: NAME DATA AGE.
func cmTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("Data", "string", corev1.ConfigMap{}.SwaggerDoc()["data"], 0),
			ageColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			cm, ok := obj.(*corev1.ConfigMap)
			if !ok {
				return nil, fmt.Errorf("configmap table: unexpected object %T", obj)
			}
			return []interface{}{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), translateTimestampSince(cm.CreationTimestamp)}, nil
		},
	}
}
