package apiserver_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/store"
	"github.com/drover-ci/drover/cluster/store/boltstore"
	"github.com/drover-ci/drover/cluster/store/memstore"
)

// fullDisk is a store whose creates and updates fail as boltstore's do on a full disk (ENOSPC,
// with the file's path in the error) while full is set; deletes still work.
type fullDisk struct {
	store.Store
	full atomic.Bool
}

func (f *fullDisk) err(op, key string) error {
	return fmt.Errorf("boltstore: %s %q in /var/lib/drover/state.db: write /var/lib/drover/state.db: %w: %w", op, key, store.ErrNoSpace, syscall.ENOSPC)
}

func (f *fullDisk) Create(ctx context.Context, key string, value []byte) (int64, error) {
	if f.full.Load() {
		return 0, f.err("create", key)
	}
	return f.Store.Create(ctx, key, value)
}

func (f *fullDisk) Update(ctx context.Context, key string, value []byte, expected int64) (int64, error) {
	if f.full.Load() {
		return 0, f.err("update", key)
	}
	return f.Store.Update(ctx, key, value, expected)
}

// TestFullDisk: with the store's disk full, writes are answered 507 InsufficientStorage with a
// message that names no file, /readyz fails, /metrics shows it, deletes still work; once a
// write succeeds again the server is ready.
func TestFullDisk(t *testing.T) {
	st := &fullDisk{Store: memstore.New()}
	srv := apiservertest.StartConfig(t, apiserver.RunConfig{Store: st})
	c, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "old"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	st.full.Store(true)
	_, err = c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "new"}}, metav1.CreateOptions{})
	var se *apierrors.StatusError
	if !errors.As(err, &se) || se.ErrStatus.Code != http.StatusInsufficientStorage {
		t.Fatalf("create on a full disk: %v, want 507", err)
	}
	if msg := se.ErrStatus.Message; strings.Contains(msg, "/var/lib") || strings.Contains(msg, "state.db") || !strings.Contains(msg, "no space left") {
		t.Errorf("507 message %q: want no file path, and the reason", msg)
	}
	hc, err := rest.HTTPClientFor(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		resp, err := hc.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "no space") {
		t.Errorf("/readyz with a full disk: %d %q, want 503 naming the full disk", code, body)
	}
	if _, body := get("/metrics"); !strings.Contains(body, "\ndrover_store_no_space 1\n") {
		t.Errorf("/metrics lacks drover_store_no_space 1")
	}
	if err := c.CoreV1().ConfigMaps("default").Delete(ctx, "old", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete on a full disk: %v", err)
	}
	st.full.Store(false)
	if _, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "new"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create once space is free: %v", err)
	}
	if code, body := get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz after space was freed: %d %q", code, body)
	}
}

// TestStoreUsageMetrics: a bolt store's file size and its file system's free space are in
// /metrics.
func TestStoreUsageMetrics(t *testing.T) {
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := apiservertest.StartConfig(t, apiserver.RunConfig{Store: st})
	hc, err := rest.HTTPClientFor(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, m := range []string{"drover_store_size_bytes", "drover_store_free_bytes", "drover_store_free_page_bytes"} {
		found := false
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, m+" "); ok && (v != "0" || m == "drover_store_free_page_bytes") && !strings.HasPrefix(v, "-") {
				found = true
			}
		}
		if !found {
			t.Errorf("/metrics has no positive %s", m)
		}
	}
}
