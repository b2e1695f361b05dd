package registry

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// dsTable prints daemon sets as Kubernetes' printDaemonSet does.
func dsTable() *Table {
	status := appsv1.DaemonSetStatus{}.SwaggerDoc()
	return &Table{
		Columns: append([]metav1.TableColumnDefinition{
			nameColumn,
			column("Desired", "integer", status["desiredNumberScheduled"], 0),
			column("Current", "integer", status["currentNumberScheduled"], 0),
			column("Ready", "integer", status["numberReady"], 0),
			column("Up-to-date", "integer", status["updatedNumberScheduled"], 0),
			column("Available", "integer", status["numberAvailable"], 0),
			column("Node Selector", "string", corev1.PodSpec{}.SwaggerDoc()["nodeSelector"], 0),
			ageColumn,
		}, podTemplateColumns()...),
		Row: func(obj runtime.Object) ([]interface{}, error) {
			ds := obj.(*appsv1.DaemonSet)
			st := &ds.Status
			names, images := podContainerCells(ds.Spec.Template.Spec.Containers)
			return []interface{}{
				ds.Name, int64(st.DesiredNumberScheduled), int64(st.CurrentNumberScheduled), int64(st.NumberReady),
				int64(st.UpdatedNumberScheduled), int64(st.NumberAvailable), labels.FormatLabels(ds.Spec.Template.Spec.NodeSelector),
				translateTimestampSince(ds.CreationTimestamp), names, images, appsSelectorString(ds.Spec.Selector),
			}, nil
		},
	}
}
