package registry

import (
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// rsTable prints replica sets as Kubernetes' printReplicaSet does.
func rsTable() *Table {
	spec, status := appsv1.ReplicaSetSpec{}.SwaggerDoc(), appsv1.ReplicaSetStatus{}.SwaggerDoc()
	return &Table{
		Columns: append([]metav1.TableColumnDefinition{
			nameColumn,
			column("Desired", "integer", spec["replicas"], 0),
			column("Current", "integer", status["replicas"], 0),
			column("Ready", "integer", status["readyReplicas"], 0),
			ageColumn,
		}, podTemplateColumns()...),
		Row: func(obj runtime.Object) ([]interface{}, error) {
			rs := obj.(*appsv1.ReplicaSet)
			names, images := podContainerCells(rs.Spec.Template.Spec.Containers)
			return []interface{}{
				rs.Name, int64(replicasOr1(rs.Spec.Replicas)), int64(rs.Status.Replicas), int64(rs.Status.ReadyReplicas),
				translateTimestampSince(rs.CreationTimestamp), names, images, appsSelectorString(rs.Spec.Selector),
			}, nil
		},
	}
}
