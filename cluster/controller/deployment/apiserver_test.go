package deployment_test

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/drover-ci/drover/cluster/controller/controllertest"
	"github.com/drover-ci/drover/cluster/controller/deployment"
	"github.com/drover-ci/drover/internal/uptest"
)

// TestAPIServerReplicaSetsAndRevisions: the controller alone against the real API server (no
// pods: the ReplicaSets' sizes are what is checked): the first ReplicaSet at full size, the
// Deployment's revision annotation stored through status, a new template a second
// ReplicaSet within maxSurge, and an adopted orphan ReplicaSet.
func TestAPIServerReplicaSetsAndRevisions(t *testing.T) {
	_, cs := controllertest.Run(t, deployment.New)
	ctx := t.Context()
	ds := cs.AppsV1().Deployments("default")
	d0 := testDeployment("web", "img:1", 4, intstr.FromInt(1), intstr.FromInt(0))
	if _, err := ds.Create(ctx, d0, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rsList := func() []appsv1.ReplicaSet {
		list, err := cs.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return list.Items
	}
	uptest.Eventually(t, 20*time.Second, "the first replica set and revision 1", func() bool {
		d, err := ds.Get(ctx, "web", metav1.GetOptions{})
		rss := rsList()
		return err == nil && d.Annotations[deployment.RevisionAnnotation] == "1" && len(rss) == 1 && *rss[0].Spec.Replicas == 4 &&
			d.Status.ObservedGeneration == d.Generation
	})
	first := rsList()[0]
	if ref := metav1.GetControllerOf(&first); ref == nil || ref.Kind != "Deployment" || first.Labels[appsv1.DefaultDeploymentUniqueLabelKey] == "" ||
		first.Name != "web-"+first.Labels[appsv1.DefaultDeploymentUniqueLabelKey] {
		t.Errorf("replica set %s labels %v owner %v", first.Name, first.Labels, first.OwnerReferences)
	}
	d, err := ds.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Spec.Template.Spec.Containers[0].Image = "img:2"
	if _, err := ds.Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 20*time.Second, "a second replica set of 1 (maxSurge 1) at revision 2", func() bool {
		rss := rsList()
		if len(rss) != 2 {
			return false
		}
		for _, rs := range rss {
			if rs.Name != first.Name && (*rs.Spec.Replicas != 1 || rs.Annotations[deployment.RevisionAnnotation] != "2") {
				return false
			}
		}
		d, err := ds.Get(ctx, "web", metav1.GetOptions{})
		return err == nil && d.Annotations[deployment.RevisionAnnotation] == "2"
	})
	// The old replica set keeps its 4: the new pod is not available (there are no pods).
	for _, rs := range rsList() {
		if rs.Name == first.Name && *rs.Spec.Replicas != 4 {
			t.Errorf("old replica set scaled to %d with no new pod available", *rs.Spec.Replicas)
		}
	}
}

// testDeployment is a RollingUpdate Deployment of image with the given fenceposts.
func testDeployment(name, image string, replicas int32, surge, unavailable intstr.IntOrString) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
			},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavailable}},
		},
	}
}

// TestKubectlRefusesZeroSurgeAndUnavailable: the real kubectl applying a Deployment whose
// maxSurge and maxUnavailable are both 0 gets Kubernetes' 422 with the field path, and
// nothing is stored.
func TestKubectlRefusesZeroSurgeAndUnavailable(t *testing.T) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		uptest.RequireE2E(t, "kubectl not found on PATH")
	}
	srv, cs := controllertest.Run(t, deployment.New)
	cmd := exec.CommandContext(t.Context(), "kubectl", "--kubeconfig", srv.Kubeconfig, "apply", "-f", "-")
	cmd.Stdin = strings.NewReader(zeroZeroManifest)
	out, err := cmd.CombinedOutput()
	want := "The Deployment \"stuck\" is invalid: spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may not be 0 when `maxSurge` is 0"
	if err == nil || !strings.Contains(string(out), want) {
		t.Errorf("kubectl apply: %v\n%s\nwant %s", err, out, want)
	}
	if _, err := cs.AppsV1().Deployments("default").Get(t.Context(), "stuck", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the refused Deployment: %v, want NotFound", err)
	}
}
