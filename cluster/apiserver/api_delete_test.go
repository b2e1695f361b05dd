package apiserver_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

func TestDeleteUnboundPodIsImmediate(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	pods := cs.CoreV1().Pods("default")
	if _, err := pods.Create(ctx, newPod("loose", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pods.Delete(ctx, "loose", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "loose", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("unbound pod after delete: %v, want NotFound", err)
	}
}

func bindPod(t *testing.T, cs kubernetes.Interface, name, node string) {
	t.Helper()
	err := cs.CoreV1().Pods("default").Bind(testCtx(t), &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: name},
		Target: corev1.ObjectReference{Kind: "Node", Name: node}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("bind %s: %v", name, err)
	}
}

func TestDeleteBoundPodIsGraceful(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	pods := cs.CoreV1().Pods("default")
	p := newPod("bound", nil)
	grace := int64(45)
	p.Spec.TerminationGracePeriodSeconds = &grace
	if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bindPod(t, cs, "bound", "node-1")
	before := time.Now()
	if err := pods.Delete(ctx, "bound", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := pods.Get(ctx, "bound", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("bound pod vanished at once: %v", err)
	}
	if got.DeletionTimestamp == nil || got.DeletionGracePeriodSeconds == nil || *got.DeletionGracePeriodSeconds != 45 {
		t.Fatalf("deletionTimestamp %v grace %v, want set and 45", got.DeletionTimestamp, got.DeletionGracePeriodSeconds)
	}
	if d := got.DeletionTimestamp.Sub(before); d < 40*time.Second || d > 50*time.Second {
		t.Errorf("deletionTimestamp %s after the request, want about 45s", d)
	}
	// Deleting again with a longer grace period changes nothing.
	long := int64(300)
	if err := pods.Delete(ctx, "bound", metav1.DeleteOptions{GracePeriodSeconds: &long}); err != nil {
		t.Fatal(err)
	}
	again, _ := pods.Get(ctx, "bound", metav1.GetOptions{})
	if *again.DeletionGracePeriodSeconds != 45 {
		t.Errorf("a longer grace period extended the deletion to %d", *again.DeletionGracePeriodSeconds)
	}
	// Updates are still allowed (the node agent reports status) but cannot clear the deletion.
	again.DeletionTimestamp = nil
	again.Labels = map[string]string{"x": "y"}
	upd, err := pods.Update(ctx, again, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update of a terminating pod: %v", err)
	}
	if upd.DeletionTimestamp == nil {
		t.Errorf("update cleared deletionTimestamp")
	}
	zero := int64(0)
	if err := pods.Delete(ctx, "bound", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "bound", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("pod after gracePeriodSeconds=0: %v, want NotFound", err)
	}
}

func TestDeletePreconditions(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	cms := cs.CoreV1().ConfigMaps("default")
	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "pre"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wrongUID := types.UID("not-the-uid")
	err = cms.Delete(ctx, "pre", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &wrongUID}})
	wantStatus(t, "delete with wrong uid", err, 409)
	oldRV := "1"
	err = cms.Delete(ctx, "pre", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &oldRV}})
	wantStatus(t, "delete with stale resourceVersion", err, 409)
	if _, err := cms.Get(ctx, "pre", metav1.GetOptions{}); err != nil {
		t.Fatalf("failed preconditions deleted the object: %v", err)
	}
	err = cms.Delete(ctx, "pre", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cm.UID, ResourceVersion: &cm.ResourceVersion}})
	if err != nil {
		t.Fatalf("delete with matching preconditions: %v", err)
	}
}

func TestFinalizersHoldObject(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	cms := cs.CoreV1().ConfigMaps("default")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "held", Finalizers: []string{"example.com/hold"}}}
	if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "held", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := cms.Get(ctx, "held", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("finalized object vanished: %v", err)
	}
	if got.DeletionTimestamp == nil {
		t.Fatalf("no deletionTimestamp on a held object")
	}
	// New finalizers cannot be added once deletion started.
	add := got.DeepCopy()
	add.Finalizers = append(add.Finalizers, "example.com/more")
	if _, err := cms.Update(ctx, add, metav1.UpdateOptions{}); err == nil {
		t.Errorf("adding a finalizer to a deleted object succeeded")
	}
	got.Finalizers = nil
	if _, err := cms.Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("remove finalizer: %v", err)
	}
	if _, err := cms.Get(ctx, "held", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("object after its last finalizer went: %v, want NotFound", err)
	}
}

func TestNamespaceDeletion(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	core := cs.CoreV1()
	if _, err := core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "doomed"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := newPod("p", nil)
	if _, err := core.Pods("doomed").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.ConfigMaps("doomed").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.ReplicationControllers("doomed").Create(ctx, newRC("r", 1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.Pods("default").Create(ctx, newPod("bystander", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := core.Namespaces().Delete(ctx, "doomed", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ns, err := core.Namespaces().Get(ctx, "doomed", metav1.GetOptions{})
	if err == nil {
		if ns.Status.Phase != corev1.NamespaceTerminating || ns.DeletionTimestamp == nil {
			t.Errorf("namespace being deleted: phase %q deletionTimestamp %v", ns.Status.Phase, ns.DeletionTimestamp)
		}
		_, err := core.ConfigMaps("doomed").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "late"}}, metav1.CreateOptions{})
		if err == nil {
			cur, gerr := core.Namespaces().Get(ctx, "doomed", metav1.GetOptions{})
			t.Errorf("create in a terminating namespace succeeded (namespace now: %v %+v %+v)", gerr, cur.ObjectMeta, cur.Status)
		}
	} else if !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "namespace removed", func() (bool, error) {
		_, err := core.Namespaces().Get(ctx, "doomed", metav1.GetOptions{})
		return gone(err)
	})
	for what, list := range map[string]func() (int, error){
		"pods": func() (int, error) {
			l, err := core.Pods("doomed").List(ctx, metav1.ListOptions{})
			return len(l.Items), err
		},
		"configmaps": func() (int, error) {
			l, err := core.ConfigMaps("doomed").List(ctx, metav1.ListOptions{})
			return len(l.Items), err
		},
		"rcs": func() (int, error) {
			l, err := core.ReplicationControllers("doomed").List(ctx, metav1.ListOptions{})
			return len(l.Items), err
		},
	} {
		if n, err := list(); err != nil || n != 0 {
			t.Errorf("%s left in the deleted namespace: %d (%v)", what, n, err)
		}
	}
	if _, err := core.Pods("default").Get(ctx, "bystander", metav1.GetOptions{}); err != nil {
		t.Errorf("namespace deletion touched another namespace: %v", err)
	}
	// The name can be used again.
	if _, err := core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "doomed"}}, metav1.CreateOptions{}); err != nil {
		t.Errorf("re-create namespace: %v", err)
	}
}

func TestNamespaceDeletionWaitsForGracefulPods(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	core := cs.CoreV1()
	if _, err := core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "slow"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.Pods("slow").Create(ctx, newPod("run", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := core.Pods("slow").Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "run"},
		Target: corev1.ObjectReference{Kind: "Node", Name: "n"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := core.Namespaces().Delete(ctx, "slow", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The bound pod is terminating, waiting for its node agent; the namespace waits for it.
	eventually(t, 5*time.Second, "pod terminating", func() (bool, error) {
		p, err := core.Pods("slow").Get(ctx, "run", metav1.GetOptions{})
		return err == nil && p.DeletionTimestamp != nil, err
	})
	if _, err := core.Namespaces().Get(ctx, "slow", metav1.GetOptions{}); err != nil {
		t.Fatalf("namespace gone while a pod still terminates: %v", err)
	}
	zero := int64(0)
	if err := core.Pods("slow").Delete(ctx, "run", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "namespace removed", func() (bool, error) {
		_, err := core.Namespaces().Get(ctx, "slow", metav1.GetOptions{})
		return gone(err)
	})
}

func TestDeleteDefaultNamespaceForbidden(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	for _, name := range []string{"default", "kube-system"} {
		err := cs.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
		wantStatus(t, "delete namespace "+name, err, 403)
		ns, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if err != nil || ns.DeletionTimestamp != nil || ns.Status.Phase != corev1.NamespaceActive {
			t.Errorf("namespace %s after refused delete: %v %+v", name, err, ns.Status)
		}
	}
}
