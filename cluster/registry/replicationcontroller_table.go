package registry

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// rcTable prints replication controllers as kubectl v1.32 does.
func rcTable() *Table {
	rcSpec, rcStatus := corev1.ReplicationControllerSpec{}.SwaggerDoc(), corev1.ReplicationControllerStatus{}.SwaggerDoc()
	return &Table{
		Columns: append([]metav1.TableColumnDefinition{
			nameColumn,
			column("Desired", "integer", rcSpec["replicas"], 0),
			column("Current", "integer", rcStatus["replicas"], 0),
			column("Ready", "integer", rcStatus["readyReplicas"], 0),
			ageColumn,
		}, podTemplateColumns()...),
		Row: func(obj runtime.Object) ([]interface{}, error) {
			rc := obj.(*corev1.ReplicationController)
			desired := int64(0)
			if rc.Spec.Replicas != nil {
				desired = int64(*rc.Spec.Replicas)
			}
			var containers []corev1.Container
			if rc.Spec.Template != nil {
				containers = rc.Spec.Template.Spec.Containers
			}
			names, images := podContainerCells(containers)
			return []interface{}{
				rc.Name, desired, int64(rc.Status.Replicas), int64(rc.Status.ReadyReplicas),
				translateTimestampSince(rc.CreationTimestamp), names, images, labels.FormatLabels(rc.Spec.Selector),
			}, nil
		},
	}
}
