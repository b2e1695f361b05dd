package provider

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cloud/config"
)

// SwarmPrefix starts the name of a swarm template's ReplicationController
// (SwarmPrefix + template name). Its pods are named after it, and so are the
// Jenkins nodes their swarm clients register (pod name + "-" + a hash).
const SwarmPrefix = "jenkins-swarm-"

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

// DeletionCostAnnotation is the pod annotation drover's replication
// controller (like Kubernetes') reads to choose the pods to delete on a
// scale-down: lowest cost first.
const DeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// Deletion costs of swarm agent pods: busy agents are deleted last.
const (
	DeletionCostBusy = "1000"
	DeletionCostIdle = "-1000"
)

// setDeletionCosts marks the pods of swarm template t with their deletion
// cost (busy agents high, others low), writing only changed values.
func (p *Provider) setDeletionCosts(ctx context.Context, w *world, t string) error {
	var errs []error
	for _, a := range w.agents {
		if !a.swarm || a.template != t || a.pod.DeletionTimestamp != nil {
			continue
		}
		cost := DeletionCostIdle
		if a.busy() {
			cost = DeletionCostBusy
		}
		if a.pod.Annotations[DeletionCostAnnotation] == cost {
			continue
		}
		if err := p.patchPod(ctx, a.pod.Name, map[string]any{DeletionCostAnnotation: cost}); err != nil {
			errs = append(errs, err)
			continue
		}
		if a.pod.Annotations == nil {
			a.pod.Annotations = map[string]string{}
		}
		a.pod.Annotations[DeletionCostAnnotation] = cost
	}
	return errors.Join(errs...)
}

// scaleSwarm creates the template's RC or updates its replicas when they
// change; before a scale-down it sets its pods' deletion costs so that the
// RC deletes idle agents, not busy ones.
func (p *Provider) scaleSwarm(ctx context.Context, w *world, t config.Template, minIdle, busy, queued int) (int, error) {
	replicas := SwarmReplicas(t, minIdle, busy, queued)
	rcs := p.opts.Kube.CoreV1().ReplicationControllers(p.ns)
	name := SwarmPrefix + t.Name
	rc, err := rcs.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = rcs.Create(ctx, SwarmController(p.cfg, t, p.ns, replicas), metav1.CreateOptions{})
		if err != nil {
			return replicas, fmt.Errorf("provider: create swarm controller %s: %w", name, err)
		}
		p.log.Info("created swarm controller", "template", t.Name, "replicas", replicas)
		return replicas, nil
	}
	if err != nil {
		return replicas, fmt.Errorf("provider: get swarm controller %s: %w", name, err)
	}
	if rc.Spec.Replicas != nil && int(*rc.Spec.Replicas) == replicas {
		return replicas, nil
	}
	if rc.Spec.Replicas != nil && replicas < int(*rc.Spec.Replicas) {
		if err := p.setDeletionCosts(ctx, w, t.Name); err != nil {
			return int(*rc.Spec.Replicas), fmt.Errorf("provider: swarm controller %s: not scaling down: %w", name, err)
		}
	}
	r := int32(replicas)
	rc.Spec.Replicas = &r
	if _, err := rcs.Update(ctx, rc, metav1.UpdateOptions{}); err != nil {
		return replicas, fmt.Errorf("provider: scale swarm controller %s: %w", name, err)
	}
	p.log.Info("scaled swarm controller", "template", t.Name, "replicas", replicas, "busy", busy, "queued", queued)
	return replicas, nil
}
