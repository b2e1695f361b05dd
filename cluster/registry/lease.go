package registry

import (
	"fmt"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// leaseResource describes the coordination.k8s.io/v1 leases resource.
func leaseResource() *Resource {
	return &Resource{
		Group: "coordination.k8s.io", Version: "v1", Resource: "leases", Kind: "Lease", SingularName: "lease",
		Namespaced:     true,
		New:            func() runtime.Object { return &coordinationv1.Lease{} },
		NewList:        func() runtime.Object { return &coordinationv1.LeaseList{} },
		Validate:       func(obj runtime.Object) field.ErrorList { return leaseValidate(obj.(*coordinationv1.Lease)) },
		ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList { return leaseValidate(obj.(*coordinationv1.Lease)) },
		Table:          leaseTable(),
	}
}

// leaseValidate checks the lease duration is positive, transitions are not negative, and a
// preferred holder comes with a strategy, as Kubernetes' ValidateLeaseSpec does.
func leaseValidate(l *coordinationv1.Lease) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	if d := l.Spec.LeaseDurationSeconds; d != nil && *d <= 0 {
		errs = append(errs, field.Invalid(spec.Child("leaseDurationSeconds"), *d, "must be greater than 0"))
	}
	if t := l.Spec.LeaseTransitions; t != nil && *t < 0 {
		errs = append(errs, field.Invalid(spec.Child("leaseTransitions"), *t, "must be greater than or equal to 0"))
	}
	if p := l.Spec.PreferredHolder; p != nil && *p != "" && (l.Spec.Strategy == nil || *l.Spec.Strategy == "") {
		errs = append(errs, field.Forbidden(spec.Child("preferredHolder"), "may only be specified if `strategy` is defined"))
	}
	return errs
}

// leaseTable prints leases: NAME HOLDER AGE.
func leaseTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("Holder", "string", coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"], 0),
			ageColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			l, ok := obj.(*coordinationv1.Lease)
			if !ok {
				return nil, fmt.Errorf("lease table: unexpected object %T", obj)
			}
			holder := ""
			if l.Spec.HolderIdentity != nil {
				holder = *l.Spec.HolderIdentity
			}
			return []interface{}{l.Name, holder, translateTimestampSince(l.CreationTimestamp)}, nil
		},
	}
}
