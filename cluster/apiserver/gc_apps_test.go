package apiserver_test

import (
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
)

func ownerRef(apiVersion, kind string, obj metav1.Object) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: obj.GetName(), UID: obj.GetUID(), Controller: &yes, BlockOwnerDeletion: &yes}
}

// The collector follows ownerReferences to the apps kinds: Deployment → ReplicaSet → Pod
// (foreground, so the whole chain goes before the deployment), StatefulSet → Pod with the
// claims (which the StatefulSet controller does not own) kept, ControllerRevision owned.
func TestCascadeThroughAppsKinds(t *testing.T) {
	t.Parallel()
	srv, cs := startClient(t)
	ctx := testCtx(t)
	// Typed clients may send protobuf: create the chain that way.
	pcfg := rest.CopyConfig(srv.Config)
	pcfg.ContentType = runtime.ContentTypeProtobuf
	pcs := clientFor(t, pcfg)
	apps := pcs.AppsV1().Deployments("default")
	d, err := apps.Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Template: newPodTemplate("web"),
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := pcs.AppsV1().ReplicaSets("default").Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-1",
		OwnerReferences: []metav1.OwnerReference{ownerRef("apps/v1", "Deployment", d)}}, Spec: appsv1.ReplicaSetSpec{
		Selector: d.Spec.Selector, Template: d.Spec.Template,
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sts, err := pcs.AppsV1().StatefulSets("default").Create(ctx, &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db"}, Spec: appsv1.StatefulSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}, Template: newPodTemplate("db"), ServiceName: "db",
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pcs.AppsV1().ControllerRevisions("default").Create(ctx, &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "db-1",
		OwnerReferences: []metav1.OwnerReference{ownerRef("apps/v1", "StatefulSet", sts)}}, Data: runtime.RawExtension{Raw: []byte(`{}`)}, Revision: 1,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, owner := range []struct {
		app, kind string
		obj       metav1.Object
	}{{"web", "ReplicaSet", rs}, {"web", "ReplicaSet", rs}, {"db", "StatefulSet", sts}} {
		p := newPod(fmt.Sprintf("%s-%d", owner.app, i), map[string]string{"app": owner.app})
		p.OwnerReferences = []metav1.OwnerReference{ownerRef("apps/v1", owner.kind, owner.obj)}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data-db-0", Labels: map[string]string{"app": "db"}},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
	if _, err := cs.CoreV1().PersistentVolumeClaims("default").Create(ctx, claim, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	fg := metav1.DeletePropagationForeground
	if err := apps.Delete(ctx, "web", metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "deployment, replica set and pods collected", func() (bool, error) {
		_, derr := apps.Get(ctx, "web", metav1.GetOptions{})
		_, rerr := cs.AppsV1().ReplicaSets("default").Get(ctx, "web-1", metav1.GetOptions{})
		n := len(podsOf(t, ctx, cs, "web"))
		return derr != nil && rerr != nil && n == 0, fmt.Errorf("deployment %v, replica set %v, %d pods", derr, rerr, n)
	})
	if err := cs.AppsV1().StatefulSets("default").Delete(ctx, "db", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "stateful set pods and revisions collected", func() (bool, error) {
		revs, err := cs.AppsV1().ControllerRevisions("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		n := len(podsOf(t, ctx, cs, "db"))
		return n == 0 && len(revs.Items) == 0, fmt.Errorf("%d pods, %d revisions", n, len(revs.Items))
	})
	if _, err := cs.CoreV1().PersistentVolumeClaims("default").Get(ctx, "data-db-0", metav1.GetOptions{}); err != nil {
		t.Errorf("the stateful set's claim went with it: %v", err)
	}
}

func newPodTemplate(app string) corev1.PodTemplateSpec {
	p := newPod("", map[string]string{"app": app})
	return corev1.PodTemplateSpec{ObjectMeta: p.ObjectMeta, Spec: p.Spec}
}
