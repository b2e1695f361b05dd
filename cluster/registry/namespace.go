package registry

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// nsNameLabel is the label Kubernetes sets on every namespace to its name.
const nsNameLabel = "kubernetes.io/metadata.name"

// nsResource describes the namespaces resource.
func nsResource() *Resource {
	return &Resource{
		Version: "v1", Resource: "namespaces", Kind: "Namespace", SingularName: "namespace",
		ShortNames: []string{"ns"}, Subresources: []string{"status", "finalize"}, HasStatus: true,
		New:                  func() runtime.Object { return &corev1.Namespace{} },
		NewList:              func() runtime.Object { return &corev1.NamespaceList{} },
		NameValidation:       apivalidation.NameIsDNSLabel,
		Default:              func(obj runtime.Object) { nsDefault(obj.(*corev1.Namespace)) },
		PrepareForCreate:     func(obj runtime.Object) { nsPrepareForCreate(obj.(*corev1.Namespace)) },
		PrepareForUpdate:     func(obj, old runtime.Object) { nsPrepareForUpdate(obj.(*corev1.Namespace), old.(*corev1.Namespace)) },
		Validate:             func(obj runtime.Object) field.ErrorList { return nsValidate(obj.(*corev1.Namespace)) },
		ValidateUpdate:       func(obj, _ runtime.Object) field.ErrorList { return nsValidate(obj.(*corev1.Namespace)) },
		ValidateStatusUpdate: func(obj, _ runtime.Object) field.ErrorList { return nsValidateStatus(obj.(*corev1.Namespace)) },
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"status.phase": string(obj.(*corev1.Namespace).Status.Phase)}
		},
		Table: nsTable(),
	}
}

// nsDefault sets status.phase Active when empty and the kubernetes.io/metadata.name label.
func nsDefault(ns *corev1.Namespace) {
	if ns.Status.Phase == "" {
		ns.Status.Phase = corev1.NamespaceActive
	}
	if ns.Name != "" {
		if ns.Labels == nil {
			ns.Labels = map[string]string{}
		}
		ns.Labels[nsNameLabel] = ns.Name
	}
}

// nsPrepareForCreate starts a namespace Active with the "kubernetes" finalizer.
func nsPrepareForCreate(ns *corev1.Namespace) {
	ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
	for _, f := range ns.Spec.Finalizers {
		if f == corev1.FinalizerKubernetes {
			return
		}
	}
	ns.Spec.Finalizers = append(ns.Spec.Finalizers, corev1.FinalizerKubernetes)
}

// nsPrepareForUpdate keeps spec.finalizers: only the finalize subresource changes them.
func nsPrepareForUpdate(ns, old *corev1.Namespace) {
	ns.Spec.Finalizers = old.Spec.Finalizers
	ns.Status = old.Status
}

// nsValidate checks spec.finalizers are qualified names.
func nsValidate(ns *corev1.Namespace) field.ErrorList {
	var errs field.ErrorList
	for i, f := range ns.Spec.Finalizers {
		errs = append(errs, apivalidation.ValidateFinalizerName(string(f), field.NewPath("spec", "finalizers").Index(i))...)
	}
	return errs
}

// nsValidateStatus checks the phase agrees with deletionTimestamp, as Kubernetes does.
func nsValidateStatus(ns *corev1.Namespace) field.ErrorList {
	path := field.NewPath("status", "phase")
	if ns.DeletionTimestamp.IsZero() {
		if ns.Status.Phase != corev1.NamespaceActive {
			return field.ErrorList{field.Invalid(path, ns.Status.Phase, "may only be 'Active' if `deletionTimestamp` is empty")}
		}
	} else if ns.Status.Phase != corev1.NamespaceTerminating {
		return field.ErrorList{field.Invalid(path, ns.Status.Phase, "may only be 'Terminating' if `deletionTimestamp` is not empty")}
	}
	return nsValidate(ns)
}

// nsTable prints namespaces: NAME STATUS AGE.
func nsTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("Status", "string", "The status of the namespace", 0),
			ageColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			ns, ok := obj.(*corev1.Namespace)
			if !ok {
				return nil, fmt.Errorf("namespace table: unexpected object %T", obj)
			}
			return []interface{}{ns.Name, string(ns.Status.Phase), translateTimestampSince(ns.CreationTimestamp)}, nil
		},
	}
}
