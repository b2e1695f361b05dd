package downward

import (
	"fmt"
	"math"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// ResourceValue answers a resourceFieldRef as the kubelet does: the named container of pod
// (ref.containerName, which downwardAPI volume items name) or else c; a limit the container
// does not set is the node's allocatable (defaultPodLimitsForDownwardAPI); the value divided
// by ref.divisor (default 1) and rounded up, CPU in cores (divisor 1m: millicores).
func ResourceValue(ref *corev1.ResourceFieldSelector, pod *corev1.Pod, c *corev1.Container, allocatable corev1.ResourceList) (string, error) {
	if ref.ContainerName != "" {
		if c = containerNamed(pod, ref.ContainerName); c == nil {
			return "", fmt.Errorf("container %s not found", ref.ContainerName)
		}
	}
	if c == nil {
		return "", fmt.Errorf("resourceFieldRef %s: containerName is required", ref.Resource)
	}
	limits := c.Resources.Limits.DeepCopy()
	if limits == nil {
		limits = corev1.ResourceList{}
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		if _, set := limits[name]; !set {
			if q, ok := allocatable[name]; ok {
				limits[name] = q.DeepCopy()
			}
		}
	}
	divisor := resource.MustParse("1")
	if !ref.Divisor.IsZero() {
		divisor = ref.Divisor
	}
	switch ref.Resource {
	case "limits.cpu":
		return cpuString(limits.Cpu(), divisor), nil
	case "requests.cpu":
		return cpuString(c.Resources.Requests.Cpu(), divisor), nil
	case "limits.memory":
		return valueString(limits.Memory(), divisor), nil
	case "requests.memory":
		return valueString(c.Resources.Requests.Memory(), divisor), nil
	case "limits.ephemeral-storage":
		return valueString(limits.StorageEphemeral(), divisor), nil
	case "requests.ephemeral-storage":
		return valueString(c.Resources.Requests.StorageEphemeral(), divisor), nil
	}
	return "", fmt.Errorf("unsupported container resource : %v", ref.Resource)
}

func cpuString(q *resource.Quantity, divisor resource.Quantity) string {
	return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(divisor.MilliValue()))), 10)
}

func valueString(q *resource.Quantity, divisor resource.Quantity) string {
	return strconv.FormatInt(int64(math.Ceil(float64(q.Value())/float64(divisor.Value()))), 10)
}

func containerNamed(pod *corev1.Pod, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}
