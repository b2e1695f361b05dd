package apiserver_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/store"
	"github.com/drover-ci/drover/cluster/store/memstore"
)

// racingWriter is a store in which, once armed, another writer updates the first configmaps
// key an Update is about to write (as a controller writing status between the API server's
// read and its write would), so that Update conflicts once.
type racingWriter struct {
	store.Store
	armed atomic.Bool
}

func (r *racingWriter) Update(ctx context.Context, key string, value []byte, expected int64) (int64, error) {
	if strings.Contains(key, "configmaps") && r.armed.CompareAndSwap(true, false) {
		kv, err := r.Store.Get(ctx, key)
		if err == nil {
			_, _ = r.Store.Update(ctx, key, kv.Value, kv.Revision)
		}
	}
	return r.Store.Update(ctx, key, value, expected)
}

// TestUnconditionalUpdateRetries: a PUT without resourceVersion is unconditional in Kubernetes
// (GuaranteedUpdate re-reads and applies it again on a conflict), so a write that races it is
// no reason for a 409 — as the conformance test "should be able to update and delete
// ResourceQuota" expects while the quota controller writes status. A PUT with a stale
// resourceVersion still gets its 409.
func TestUnconditionalUpdateRetries(t *testing.T) {
	st := &racingWriter{Store: memstore.New()}
	srv := apiservertest.StartConfig(t, apiserver.RunConfig{Store: st})
	c, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	cms := c.CoreV1().ConfigMaps("default")
	created, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}, Data: map[string]string{"v": "1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	st.armed.Store(true)
	got, err := cms.Update(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}, Data: map[string]string{"v": "2"}}, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("unconditional update racing another write: %v, want it applied", err)
	}
	if got.Data["v"] != "2" || st.armed.Load() {
		t.Fatalf("update = %v (race armed: %v), want v=2 after the racing write", got.Data, st.armed.Load())
	}

	stale := created.DeepCopy()
	stale.Data = map[string]string{"v": "3"}
	if _, err := cms.Update(ctx, stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("update with a stale resourceVersion: %v, want 409", err)
	}
}
