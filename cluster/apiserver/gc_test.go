package apiserver_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ownedPods creates an RC and n pods owned by it (controller reference with the RC's uid).
func ownedPods(t *testing.T, ctx context.Context, cs kubernetes.Interface, rcName string, n int) *corev1.ReplicationController {
	t.Helper()
	rc, err := cs.CoreV1().ReplicationControllers("default").Create(ctx, newRC(rcName, int32(n)), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	for i := 0; i < n; i++ {
		p := newPod(fmt.Sprintf("%s-%d", rcName, i), map[string]string{"app": rcName})
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ReplicationController",
			Name: rc.Name, UID: rc.UID, Controller: &yes, BlockOwnerDeletion: &yes}}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return rc
}

func podsOf(t *testing.T, ctx context.Context, cs kubernetes.Interface, app string) []corev1.Pod {
	t.Helper()
	list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func TestCascadeBackground(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	ownedPods(t, ctx, cs, "bg", 3)
	// A pod with an unrelated owner stays.
	stray := newPod("stray", map[string]string{"app": "bg"})
	if _, err := cs.CoreV1().Pods("default").Create(ctx, stray, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bg := metav1.DeletePropagationBackground
	if err := cs.CoreV1().ReplicationControllers("default").Delete(ctx, "bg", metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ReplicationControllers("default").Get(ctx, "bg", metav1.GetOptions{}); err == nil {
		t.Errorf("background deletion kept the owner")
	}
	eventually(t, 10*time.Second, "dependents collected", func() (bool, error) {
		pods := podsOf(t, ctx, cs, "bg")
		return len(pods) == 1 && pods[0].Name == "stray", fmt.Errorf("%d pods left", len(pods))
	})
}

func TestCascadeDefaultIsBackground(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	ownedPods(t, ctx, cs, "dflt", 2)
	if err := cs.CoreV1().ReplicationControllers("default").Delete(ctx, "dflt", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "dependents collected", func() (bool, error) {
		return len(podsOf(t, ctx, cs, "dflt")) == 0, nil
	})
}

func TestCascadeForeground(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	ownedPods(t, ctx, cs, "fg", 2)
	// One dependent is held by a finalizer, so the owner must wait for it.
	p, err := cs.CoreV1().Pods("default").Get(ctx, "fg-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Finalizers = []string{"example.com/hold"}
	if _, err := cs.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	fg := metav1.DeletePropagationForeground
	if err := cs.CoreV1().ReplicationControllers("default").Delete(ctx, "fg", metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil {
		t.Fatal(err)
	}
	got, err := cs.CoreV1().ReplicationControllers("default").Get(ctx, "fg", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("owner gone before its dependents: %v", err)
	}
	if got.DeletionTimestamp == nil || !slices.Contains(got.Finalizers, metav1.FinalizerDeleteDependents) {
		t.Fatalf("owner: deletionTimestamp %v finalizers %v", got.DeletionTimestamp, got.Finalizers)
	}
	eventually(t, 10*time.Second, "free dependent removed", func() (bool, error) {
		pods := podsOf(t, ctx, cs, "fg")
		return len(pods) == 1 && pods[0].Name == "fg-0" && pods[0].DeletionTimestamp != nil, fmt.Errorf("pods %v", len(pods))
	})
	if _, err := cs.CoreV1().ReplicationControllers("default").Get(ctx, "fg", metav1.GetOptions{}); err != nil {
		t.Fatalf("owner gone while a dependent is still held: %v", err)
	}
	p, _ = cs.CoreV1().Pods("default").Get(ctx, "fg-0", metav1.GetOptions{})
	p.Finalizers = nil
	if _, err := cs.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "owner removed after its dependents", func() (bool, error) {
		_, err := cs.CoreV1().ReplicationControllers("default").Get(ctx, "fg", metav1.GetOptions{})
		return gone(err)
	})
	if n := len(podsOf(t, ctx, cs, "fg")); n != 0 {
		t.Errorf("%d dependents left", n)
	}
}

func TestCascadeOrphan(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	rc := ownedPods(t, ctx, cs, "orph", 2)
	// A second owner on one pod must survive the orphaning.
	other, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "other-owner"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := cs.CoreV1().Pods("default").Get(ctx, "orph-1", metav1.GetOptions{})
	p.OwnerReferences = append(p.OwnerReferences, metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: other.Name, UID: other.UID})
	if _, err := cs.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	orphan := metav1.DeletePropagationOrphan
	if err := cs.CoreV1().ReplicationControllers("default").Delete(ctx, "orph", metav1.DeleteOptions{PropagationPolicy: &orphan}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "owner removed", func() (bool, error) {
		_, err := cs.CoreV1().ReplicationControllers("default").Get(ctx, "orph", metav1.GetOptions{})
		return gone(err)
	})
	pods := podsOf(t, ctx, cs, "orph")
	if len(pods) != 2 {
		t.Fatalf("orphan deletion removed dependents: %d left", len(pods))
	}
	for _, p := range pods {
		for _, ref := range p.OwnerReferences {
			if ref.UID == rc.UID {
				t.Errorf("pod %s still references the deleted owner", p.Name)
			}
		}
		if p.DeletionTimestamp != nil {
			t.Errorf("orphaned pod %s is being deleted", p.Name)
		}
	}
	p, _ = cs.CoreV1().Pods("default").Get(ctx, "orph-1", metav1.GetOptions{})
	if len(p.OwnerReferences) != 1 || p.OwnerReferences[0].UID != other.UID {
		t.Errorf("second owner reference lost: %+v", p.OwnerReferences)
	}
}

func TestDanglingOwnerCollected(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	owner, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(name string, refs ...metav1.OwnerReference) {
		t.Helper()
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"dep": "1"}, OwnerReferences: refs}}
		if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	live := metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: owner.UID}
	dead := metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "ghost", UID: "0000-no-such-uid"}
	mk("dangling", dead)
	mk("half", live, dead)
	mk("kept", live)
	eventually(t, 10*time.Second, "dependent of a missing owner collected", func() (bool, error) {
		_, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "dangling", metav1.GetOptions{})
		return gone(err)
	})
	eventually(t, 10*time.Second, "dead reference dropped", func() (bool, error) {
		cm, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "half", metav1.GetOptions{})
		return err == nil && len(cm.OwnerReferences) == 1 && cm.OwnerReferences[0].UID == owner.UID, err
	})
	if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "kept", metav1.GetOptions{}); err != nil {
		t.Errorf("dependent of a live owner collected: %v", err)
	}
}
