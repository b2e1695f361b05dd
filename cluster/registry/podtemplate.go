package registry

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// podTemplateResource describes the v1 podtemplates resource: a stored pod template, used
// by nothing in drover itself but served as Kubernetes does.
func podTemplateResource() *Resource {
	return &Resource{
		Version: "v1", Resource: "podtemplates", Kind: "PodTemplate", SingularName: "podtemplate",
		Namespaced: true,
		New:        func() runtime.Object { return &corev1.PodTemplate{} },
		NewList:    func() runtime.Object { return &corev1.PodTemplateList{} },
		Default:    func(obj runtime.Object) { podSpecDefault(&obj.(*corev1.PodTemplate).Template.Spec) },
		Validate: func(obj runtime.Object) field.ErrorList {
			return podTemplateValidate(&obj.(*corev1.PodTemplate).Template, field.NewPath("template"))
		},
		ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList {
			return podTemplateValidate(&obj.(*corev1.PodTemplate).Template, field.NewPath("template"))
		},
		Table: podTemplateTable(),
	}
}

// podTemplateTable prints pod templates as kubectl does: NAME CONTAINERS IMAGES POD LABELS.
func podTemplateTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("Containers", "string", "Names of each container in the template.", 0),
			column("Images", "string", "Images referenced by each container in the template.", 0),
			column("Pod Labels", "string", "The labels for the pod template.", 0),
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			pt, ok := obj.(*corev1.PodTemplate)
			if !ok {
				return nil, fmt.Errorf("podtemplate table: unexpected object %T", obj)
			}
			names, images := podContainerCells(pt.Template.Spec.Containers)
			return []interface{}{pt.Name, names, images, labels.FormatLabels(pt.Template.Labels)}, nil
		},
	}
}
