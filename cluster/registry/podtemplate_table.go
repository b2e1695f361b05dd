package registry

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podTemplateColumns are the wide CONTAINERS, IMAGES and SELECTOR columns of workload tables.
func podTemplateColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		column("Containers", "string", "Names of each container in the template.", 1),
		column("Images", "string", "Images referenced by each container in the template.", 1),
		column("Selector", "string", "Label selector for pods. Existing pods selected by this selector are the ones affected by this controller.", 1),
	}
}

// podContainerCells joins container names and images with commas, as kubectl's
// layoutContainerCells does.
func podContainerCells(containers []corev1.Container) (names, images string) {
	n, im := make([]string, len(containers)), make([]string, len(containers))
	for i, c := range containers {
		n[i], im[i] = c.Name, c.Image
	}
	return strings.Join(n, ","), strings.Join(im, ",")
}
