package registry

import (
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// crResource describes the apps/v1 controllerrevisions resource: the immutable snapshots of
// pod templates the StatefulSet and DaemonSet controllers keep.
func crResource() *Resource {
	return &Resource{
		Group: "apps", Version: "v1", Resource: "controllerrevisions", Kind: "ControllerRevision",
		SingularName: "controllerrevision", Namespaced: true,
		New:     func() runtime.Object { return &appsv1.ControllerRevision{} },
		NewList: func() runtime.Object { return &appsv1.ControllerRevisionList{} },
		Validate: func(obj runtime.Object) field.ErrorList {
			return crValidate(obj.(*appsv1.ControllerRevision))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			cr, o := obj.(*appsv1.ControllerRevision), old.(*appsv1.ControllerRevision)
			return append(crValidate(cr), apivalidation.ValidateImmutableField(cr.Data, o.Data, field.NewPath("data"))...)
		},
		Table: crTable(),
	}
}

// crValidate is Kubernetes' ValidateControllerRevision (metadata aside).
func crValidate(cr *appsv1.ControllerRevision) field.ErrorList {
	var errs field.ErrorList
	if cr.Data.Raw == nil && cr.Data.Object == nil {
		errs = append(errs, field.Required(field.NewPath("data"), "data is mandatory"))
	}
	return append(errs, apivalidation.ValidateNonnegativeField(cr.Revision, field.NewPath("revision"))...)
}

// crTable prints controller revisions as Kubernetes' printControllerRevision does.
func crTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("Controller", "string", "Controller of the object", 0),
			column("Revision", "string", appsv1.ControllerRevision{}.SwaggerDoc()["revision"], 0),
			ageColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			cr := obj.(*appsv1.ControllerRevision)
			controller := "<none>"
			if ref := metav1.GetControllerOf(cr); ref != nil {
				gv, err := schema.ParseGroupVersion(ref.APIVersion)
				if err != nil {
					return nil, err
				}
				controller = strings.ToLower(gv.WithKind(ref.Kind).GroupKind().String()) + "/" + ref.Name
			}
			return []interface{}{cr.Name, controller, cr.Revision, translateTimestampSince(cr.CreationTimestamp)}, nil
		},
	}
}
