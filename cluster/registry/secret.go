package registry

import (
	"fmt"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// MaxSecretSize is the largest total size of a secret's or config map's data (1 MiB).
const MaxSecretSize = 1 * 1024 * 1024

// secretResource describes the secrets resource.
func secretResource() *Resource {
	return &Resource{
		Version: "v1", Resource: "secrets", Kind: "Secret", SingularName: "secret", Namespaced: true,
		New:      func() runtime.Object { return &corev1.Secret{} },
		NewList:  func() runtime.Object { return &corev1.SecretList{} },
		Default:  func(obj runtime.Object) { secretDefault(obj.(*corev1.Secret)) },
		Validate: func(obj runtime.Object) field.ErrorList { return secretValidate(obj.(*corev1.Secret)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return secretValidateUpdate(obj.(*corev1.Secret), old.(*corev1.Secret))
		},
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"type": string(obj.(*corev1.Secret).Type)}
		},
		Table: secretTable(),
	}
}

// secretDefault sets type Opaque and folds stringData into data, as the v1 conversion does
// in Kubernetes (stringData wins over data for the same key and is never stored).
func secretDefault(s *corev1.Secret) {
	if s.Type == "" {
		s.Type = corev1.SecretTypeOpaque
	}
	if len(s.StringData) > 0 && s.Data == nil {
		s.Data = make(map[string][]byte, len(s.StringData))
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
}

// secretValidate checks keys, total size and the keys each well-known type requires.
func secretValidate(s *corev1.Secret) field.ErrorList {
	var errs field.ErrorList
	dataPath := field.NewPath("data")
	size := 0
	for _, k := range sortedKeys(s.Data) {
		for _, msg := range validation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(dataPath.Key(k), k, msg))
		}
		size += len(s.Data[k])
	}
	if size > MaxSecretSize {
		errs = append(errs, field.TooLong(dataPath, "", MaxSecretSize))
	}
	required := map[corev1.SecretType][]string{
		corev1.SecretTypeDockercfg:        {corev1.DockerConfigKey},
		corev1.SecretTypeDockerConfigJson: {corev1.DockerConfigJsonKey},
		corev1.SecretTypeSSHAuth:          {corev1.SSHAuthPrivateKey},
		corev1.SecretTypeTLS:              {corev1.TLSCertKey, corev1.TLSPrivateKeyKey},
	}[s.Type]
	for _, k := range required {
		if _, ok := s.Data[k]; !ok {
			errs = append(errs, field.Required(dataPath.Key(k), ""))
		}
	}
	switch s.Type {
	case corev1.SecretTypeServiceAccountToken:
		if s.Annotations[corev1.ServiceAccountNameKey] == "" {
			errs = append(errs, field.Required(field.NewPath("metadata", "annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
	case corev1.SecretTypeBasicAuth:
		_, user := s.Data[corev1.BasicAuthUsernameKey]
		_, pass := s.Data[corev1.BasicAuthPasswordKey]
		if !user && !pass {
			errs = append(errs, field.Required(dataPath.Key(corev1.BasicAuthUsernameKey), ""),
				field.Required(dataPath.Key(corev1.BasicAuthPasswordKey), ""))
		}
	}
	return errs
}

// secretValidateUpdate keeps the type, and the data of an immutable secret.
func secretValidateUpdate(s, old *corev1.Secret) field.ErrorList {
	errs := apivalidation.ValidateImmutableField(s.Type, old.Type, field.NewPath("type"))
	if old.Immutable != nil && *old.Immutable {
		if s.Immutable == nil || !*s.Immutable {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), "field is immutable when `immutable` is set"))
		}
		if !reflect.DeepEqual(s.Data, old.Data) {
			errs = append(errs, field.Forbidden(field.NewPath("data"), "field is immutable when `immutable` is set"))
		}
	}
	return append(errs, secretValidate(s)...)
}

// secretTable prints secrets: NAME TYPE DATA AGE.
func secretTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("Type", "string", corev1.Secret{}.SwaggerDoc()["type"], 0),
			column("Data", "string", corev1.Secret{}.SwaggerDoc()["data"], 0),
			ageColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			s, ok := obj.(*corev1.Secret)
			if !ok {
				return nil, fmt.Errorf("secret table: unexpected object %T", obj)
			}
			return []interface{}{s.Name, string(s.Type), int64(len(s.Data)), translateTimestampSince(s.CreationTimestamp)}, nil
		},
	}
}
