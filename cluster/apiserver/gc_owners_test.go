package apiserver_test

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The upstream conformance test "should not delete dependents that have both valid owner and
// owner that's waiting for dependents to be deleted": pods owned by rc1 (blocking controller
// references), half of them also owned by rc2; rc1 deleted in the foreground. Kubernetes
// deletes a dependent only when none of its owners is left: the pods rc2 also owns stay, losing
// only their reference to rc1, and rc1 goes once its other pods are gone.
func TestForegroundKeepsDependentsWithAnotherLiveOwner(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	const n = 10
	rc1 := ownedPods(t, ctx, cs, "gc-rc1", n)
	rc2, err := cs.CoreV1().ReplicationControllers("default").Create(ctx, newRC("gc-rc2", 0), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	both := map[string]bool{}
	for i := 0; i < n/2; i++ {
		name := fmt.Sprintf("gc-rc1-%d", i)
		patch := fmt.Sprintf(`{"metadata":{"ownerReferences":[{"apiVersion":"v1","kind":"ReplicationController","name":%q,"uid":%q}]}}`, rc2.Name, rc2.UID)
		if _, err := cs.CoreV1().Pods("default").Patch(ctx, name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		both[name] = true
	}
	fg := metav1.DeletePropagationForeground
	if err := cs.CoreV1().ReplicationControllers("default").Delete(ctx, rc1.Name, metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "rc1 removed", func() (bool, error) {
		_, err := cs.CoreV1().ReplicationControllers("default").Get(ctx, rc1.Name, metav1.GetOptions{})
		return gone(err)
	})
	eventually(t, 10*time.Second, "pods owned by rc1 only collected", func() (bool, error) {
		pods := podsOf(t, ctx, cs, "gc-rc1")
		return len(pods) == n/2, fmt.Errorf("%d pods left, want %d", len(pods), n/2)
	})
	for _, p := range podsOf(t, ctx, cs, "gc-rc1") {
		if !both[p.Name] {
			t.Errorf("pod %s owned by rc1 only survived", p.Name)
		}
		if p.DeletionTimestamp != nil {
			t.Errorf("pod %s with a live owner is being deleted", p.Name)
		}
		if len(p.OwnerReferences) != 1 || p.OwnerReferences[0].UID != rc2.UID {
			t.Errorf("pod %s owners %+v, want only rc2", p.Name, p.OwnerReferences)
		}
	}
}

// Two objects owning each other with blocking references: a foreground deletion of one must
// finish (Kubernetes makes the dependent's references non-blocking when it finds the cycle),
// and both go.
func TestForegroundThroughOwnershipCycle(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	cms := cs.CoreV1().ConfigMaps("default")
	a, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cycle-a"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	b, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cycle-b", OwnerReferences: []metav1.OwnerReference{
		{APIVersion: "v1", Kind: "ConfigMap", Name: a.Name, UID: a.UID, BlockOwnerDeletion: &yes}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: b.Name, UID: b.UID, BlockOwnerDeletion: &yes}}
	if _, err := cms.Update(ctx, a, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	fg := metav1.DeletePropagationForeground
	if err := cms.Delete(ctx, a.Name, metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{a.Name, b.Name} {
		eventually(t, 10*time.Second, name+" removed", func() (bool, error) {
			_, err := cms.Get(ctx, name, metav1.GetOptions{})
			return gone(err)
		})
	}
}
