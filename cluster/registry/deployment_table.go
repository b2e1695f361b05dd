package registry

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// deploymentTable prints deployments as Kubernetes' printDeployment does.
func deploymentTable() *Table {
	status := appsv1.DeploymentStatus{}.SwaggerDoc()
	return &Table{
		Columns: append([]metav1.TableColumnDefinition{
			nameColumn,
			column("Ready", "string", "Number of the pod with ready state", 0),
			column("Up-to-date", "string", status["updatedReplicas"], 0),
			column("Available", "string", status["availableReplicas"], 0),
			ageColumn,
		}, podTemplateColumns()...),
		Row: func(obj runtime.Object) ([]interface{}, error) {
			d := obj.(*appsv1.Deployment)
			names, images := podContainerCells(d.Spec.Template.Spec.Containers)
			return []interface{}{
				d.Name, fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, replicasOr1(d.Spec.Replicas)),
				int64(d.Status.UpdatedReplicas), int64(d.Status.AvailableReplicas),
				translateTimestampSince(d.CreationTimestamp), names, images, appsSelectorString(d.Spec.Selector),
			}, nil
		},
	}
}
