package render

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cloud/config"
)

// DeletionCostAnnotation is the pod annotation drover's replication
// controller (like Kubernetes') reads to choose the pods to delete on a
// scale-down: lowest cost first.
const DeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// Deletion costs of swarm agent pods: busy agents are deleted last.
const (
	DeletionCostBusy = "1000"
	DeletionCostIdle = "-1000"
)

// SwarmReplicas is the replica count of a swarm template's controller:
// busy + queued clamped to [minIdle, instanceCap], where no instanceCap
// means no upper bound beyond the demand (never below the busy agents).
func SwarmReplicas(t config.Template, minIdle, busy, queued int) int {
	want := busy + queued
	upper := t.InstanceCap
	if upper <= 0 {
		upper = max(minIdle, want)
	}
	return min(max(want, minIdle), upper)
}

// SwarmController builds the ReplicationController of swarm template t.
func SwarmController(c *config.Config, t config.Template, namespace string, replicas int) *corev1.ReplicationController {
	labels := map[string]string{LabelTemplate: t.Name}
	env := append([]corev1.EnvVar{{Name: "JENKINS_URL", Value: AgentURL(c)}}, t.Env...)
	main := corev1.Container{Name: "swarm", Image: t.Image, Command: t.Command, Args: t.Args, Env: env,
		Resources: t.Resources, ImagePullPolicy: corev1.PullIfNotPresent}
	spec := corev1.PodSpec{RestartPolicy: corev1.RestartPolicyAlways, NodeSelector: t.NodeSelector}
	setIdentity(&spec, t)
	for _, v := range t.Volumes {
		spec.Volumes = append(spec.Volumes, v)
		main.VolumeMounts = append(main.VolumeMounts, corev1.VolumeMount{Name: v.Name, MountPath: VolumeMountPath(t, v.Name)})
	}
	spec.Containers = []corev1.Container{main}
	r := int32(replicas)
	return &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: SwarmPrefix + t.Name, Namespace: namespace, Labels: labels},
		Spec: corev1.ReplicationControllerSpec{Replicas: &r, Selector: labels,
			Template: &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec}},
	}
}
