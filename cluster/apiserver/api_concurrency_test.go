package apiserver_test

import (
	"fmt"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestConcurrentPatchesAllApply(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	cms := cs.CoreV1().ConfigMaps("default")
	start, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "shared"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			patch := fmt.Sprintf(`{"metadata":{"labels":{"k%d":"v"}},"data":{"d%d":"x"}}`, i, i)
			if _, err := cms.Patch(ctx, "shared", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent patch: %v", err)
	}
	got, err := cms.Get(ctx, "shared", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Labels) != n || len(got.Data) != n {
		t.Errorf("after %d concurrent patches: %d labels, %d data keys (lost updates)", n, len(got.Labels), len(got.Data))
	}
	if rv(t, got.ResourceVersion)-rv(t, start.ResourceVersion) < n {
		t.Errorf("resourceVersion rose by %d for %d writes", rv(t, got.ResourceVersion)-rv(t, start.ResourceVersion), n)
	}
}

func TestConcurrentCreatesOneWins(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	const n = 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, exists := 0, 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			p := newPod("race", map[string]string{"i": fmt.Sprint(i)})
			_, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case apierrors.IsAlreadyExists(err):
				exists++
			default:
				t.Errorf("create %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	if won != 1 || exists != n-1 {
		t.Errorf("%d creates won and %d saw AlreadyExists, want 1 and %d", won, exists, n-1)
	}
}

func TestConcurrentUpdatesWithResourceVersion(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	cms := cs.CoreV1().ConfigMaps("default")
	base, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cas"}, Data: map[string]string{"w": ""}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := []string{}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cm := base.DeepCopy()
			cm.Data["w"] = fmt.Sprint(i)
			_, err := cms.Update(ctx, cm, metav1.UpdateOptions{})
			switch {
			case err == nil:
				mu.Lock()
				won = append(won, cm.Data["w"])
				mu.Unlock()
			case !apierrors.IsConflict(err):
				t.Errorf("update %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d updates from the same resourceVersion succeeded, want exactly 1", len(won))
	}
	got, _ := cms.Get(ctx, "cas", metav1.GetOptions{})
	if got.Data["w"] != won[0] {
		t.Errorf("stored %q, the winner wrote %q", got.Data["w"], won[0])
	}
}
