package registry

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// stsTable prints stateful sets as Kubernetes' printStatefulSet does.
func stsTable() *Table {
	return &Table{
		Columns: append([]metav1.TableColumnDefinition{
			nameColumn,
			column("Ready", "string", "Number of the pod with ready state", 0),
			ageColumn,
		}, podTemplateColumns()[:2]...),
		Row: func(obj runtime.Object) ([]interface{}, error) {
			s := obj.(*appsv1.StatefulSet)
			names, images := podContainerCells(s.Spec.Template.Spec.Containers)
			return []interface{}{
				s.Name, fmt.Sprintf("%d/%d", s.Status.ReadyReplicas, replicasOr1(s.Spec.Replicas)),
				translateTimestampSince(s.CreationTimestamp), names, images,
			}, nil
		},
	}
}
