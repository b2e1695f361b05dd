package apiserver_test

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestDeploymentStatusKeepsAnnotations: as in Kubernetes (deploymentStatusStrategy), a
// Deployment's status update may set annotations — the controller records the
// deployment.kubernetes.io/revision annotation that way — but not labels or the spec, and it
// does not bump the generation; a pod's status update sets annotations too (podStatusStrategy
// resets only the spec and ownerReferences: the conformance test "should patch a pod status"
// patches an annotation through pods/status).
func TestDeploymentStatusKeepsAnnotations(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	ds := cs.AppsV1().Deployments("default")
	labels := map[string]string{"app": "web"}
	d, err := ds.Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: labels},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := d.DeepCopy()
	s.Annotations = map[string]string{"deployment.kubernetes.io/revision": "1"}
	s.Labels = map[string]string{"app": "changed"}
	s.Spec.Paused = true
	s.Status.ObservedGeneration = d.Generation
	s, err = ds.UpdateStatus(ctx, s, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Annotations["deployment.kubernetes.io/revision"] != "1" || s.Labels["app"] != "web" || s.Spec.Paused ||
		s.Generation != d.Generation || s.Status.ObservedGeneration != d.Generation {
		t.Errorf("after the status update: annotations %v labels %v paused %v generation %d→%d status %+v",
			s.Annotations, s.Labels, s.Spec.Paused, d.Generation, s.Generation, s.Status)
	}

	pods := cs.CoreV1().Pods("default")
	pod, err := pods.Create(ctx, newPod("annotated", map[string]string{"a": "1"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Annotations = map[string]string{"x": "y"}
	pod.Status.Message = "m"
	if pod, err = pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if pod.Annotations["x"] != "y" {
		t.Errorf("a pod's status update did not set annotations: %v", pod.Annotations)
	}
}
