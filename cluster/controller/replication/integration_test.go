package replication_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/controller/controllertest"
	"github.com/drover-ci/drover/cluster/controller/replication"
	"github.com/drover-ci/drover/internal/uptest"
)

// startManager runs the replication manager against a real API server until the test ends.
func startManager(t *testing.T) (*apiservertest.Server, kubernetes.Interface) {
	t.Helper()
	return controllertest.Run(t, replication.New)
}

// activePods lists the pods of the namespace matching selector that are not being deleted.
func activePods(t *testing.T, cs kubernetes.Interface, selector string) []corev1.Pod {
	t.Helper()
	list, err := cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

func rcStatus(t *testing.T, cs kubernetes.Interface, name string) *corev1.ReplicationController {
	t.Helper()
	rc, err := cs.CoreV1().ReplicationControllers("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func testRC(name string, replicas int32) *corev1.ReplicationController {
	return &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ReplicationControllerSpec{
			Replicas: &replicas,
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"name": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
	}
}

func TestIntegrationScaleAndReplace(t *testing.T) {
	_, cs := startManager(t)
	ctx := t.Context()
	rcs := cs.CoreV1().ReplicationControllers("default")
	rc, err := rcs.Create(ctx, testRC("web", 3), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hasPods := func(n int) func() bool {
		return func() bool {
			st := rcStatus(t, cs, "web").Status
			return len(activePods(t, cs, "name=web")) == n && st.Replicas == int32(n) && st.ObservedGeneration >= rc.Generation
		}
	}
	uptest.Eventually(t, 20*time.Second, "3 pods", hasPods(3))
	for _, p := range activePods(t, cs, "name=web") {
		if ref := metav1.GetControllerOf(&p); ref == nil || ref.UID != rc.UID {
			t.Errorf("pod %s controller = %+v", p.Name, ref)
		}
	}

	for _, n := range []int32{5, 1} {
		scale, err := rcs.GetScale(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		scale.Spec.Replicas = n
		if _, err := rcs.UpdateScale(ctx, "web", scale, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		rc = rcStatus(t, cs, "web")
		uptest.Eventually(t, 20*time.Second, "scaled pods", hasPods(int(n)))
	}

	victim := activePods(t, cs, "name=web")[0].Name
	if err := cs.CoreV1().Pods("default").Delete(ctx, victim, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 20*time.Second, "a replacement pod", func() bool {
		pods := activePods(t, cs, "name=web")
		return len(pods) == 1 && pods[0].Name != victim
	})
	time.Sleep(300 * time.Millisecond) // nothing more should come
	if n := len(activePods(t, cs, "name=web")); n != 1 {
		t.Errorf("%d pods after the replacement settled, want 1", n)
	}
}

func TestIntegrationAdoptsOrphans(t *testing.T) {
	_, cs := startManager(t)
	ctx := t.Context()
	// The controller may meet the new RC before its pod informer has delivered the orphan (as
	// kube-controller-manager may): it then creates two pods, adopts the orphan on its next
	// sync and deletes one of three. A high deletion cost makes that one not the orphan, as it
	// would in Kubernetes, so the test does not depend on the informer's timing.
	orphan := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "orphan", Labels: map[string]string{"name": "web"},
		Annotations: map[string]string{"controller.kubernetes.io/pod-deletion-cost": "100"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, orphan, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rc, err := cs.CoreV1().ReplicationControllers("default").Create(ctx, testRC("web", 2), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 20*time.Second, "the orphan adopted and one more pod", func() bool {
		pods := activePods(t, cs, "name=web")
		if len(pods) != 2 {
			return false
		}
		adopted := false
		for _, p := range pods {
			if ref := metav1.GetControllerOf(&p); ref == nil || ref.UID != rc.UID {
				return false
			}
			adopted = adopted || p.Name == "orphan"
		}
		return adopted
	})
	// Relabelling a pod releases it; the controller makes another one.
	p, err := cs.CoreV1().Pods("default").Get(ctx, "orphan", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Labels = map[string]string{"name": "debug"}
	if _, err := cs.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 20*time.Second, "the relabelled pod released and replaced", func() bool {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "orphan", metav1.GetOptions{})
		return err == nil && len(p.OwnerReferences) == 0 && len(activePods(t, cs, "name=web")) == 2
	})
}
