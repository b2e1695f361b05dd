package downward

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestResourceValue(t *testing.T) {
	q := resource.MustParse
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "set", Resources: corev1.ResourceRequirements{
			Limits:   corev1.ResourceList{corev1.ResourceCPU: q("1250m"), corev1.ResourceMemory: q("64Mi")},
			Requests: corev1.ResourceList{corev1.ResourceCPU: q("250m"), corev1.ResourceMemory: q("32Mi")}}},
		{Name: "unset"},
	}}}
	alloc := corev1.ResourceList{corev1.ResourceCPU: q("4"), corev1.ResourceMemory: q("8Gi")}
	set, unset := &pod.Spec.Containers[0], &pod.Spec.Containers[1]
	for _, tc := range []struct {
		c        *corev1.Container
		resource string
		divisor  string
		other    string
		want     string
	}{
		{set, "limits.cpu", "", "", "2"}, // rounded up
		{set, "limits.cpu", "1m", "", "1250"},
		{set, "requests.cpu", "", "", "1"},
		{set, "requests.cpu", "1m", "", "250"},
		{set, "limits.memory", "", "", "67108864"},
		{set, "limits.memory", "1Mi", "", "64"},
		{set, "requests.memory", "1Mi", "", "32"},
		{unset, "limits.cpu", "", "", "4"}, // the node's allocatable
		{unset, "limits.memory", "1Mi", "", "8192"},
		{unset, "requests.cpu", "", "", "0"},
		{unset, "requests.memory", "", "", "0"},
		{unset, "limits.memory", "1Mi", "set", "64"}, // containerName wins
	} {
		ref := &corev1.ResourceFieldSelector{Resource: tc.resource, ContainerName: tc.other}
		if tc.divisor != "" {
			ref.Divisor = q(tc.divisor)
		}
		got, err := ResourceValue(ref, pod, tc.c, alloc)
		if err != nil || got != tc.want {
			t.Errorf("%s %s divisor %q container %q = %q, %v; want %q", tc.c.Name, tc.resource, tc.divisor, tc.other, got, err, tc.want)
		}
	}
	if _, err := ResourceValue(&corev1.ResourceFieldSelector{Resource: "limits.cpu", ContainerName: "nope"}, pod, nil, alloc); err == nil {
		t.Error("an unknown containerName gave no error")
	}
	if _, err := ResourceValue(&corev1.ResourceFieldSelector{Resource: "limits.gpu"}, pod, set, alloc); err == nil {
		t.Error("an unknown resource gave no error")
	}
}
