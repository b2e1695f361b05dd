package apiserver_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/store/boltstore"
)

// TestEventsExpire: an Event created through the API expires after the event TTL (its watch
// gets DELETED, a GET 404), an Event that is updated is renewed, and other objects never expire.
func TestEventsExpire(t *testing.T) {
	const ttl = 30 * time.Minute
	st, c := startEventTTL(t, ttl)
	ctx := context.Background()
	w, err := c.CoreV1().Events("default").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e1"}, InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "p", Namespace: "default"},
		Reason: "Started", Message: "m", Type: corev1.EventTypeNormal}
	if _, err := c.CoreV1().Events("default").Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "keep"}}
	if _, err := c.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := <-w.ResultChan(); got.Type != watch.Added {
		t.Fatalf("first watch event %s", got.Type)
	}
	if n, err := st.Expire(ctx, time.Now().Add(ttl/2)); err != nil || n != 0 {
		t.Fatalf("Expire before the TTL: %d, %v", n, err)
	}
	if n, err := st.Expire(ctx, time.Now().Add(ttl+time.Minute)); err != nil || n != 1 {
		t.Fatalf("Expire after the TTL: %d, %v; want the Event", n, err)
	}
	select {
	case got := <-w.ResultChan():
		if e, ok := got.Object.(*corev1.Event); got.Type != watch.Deleted || !ok || e.Name != "e1" {
			t.Errorf("watch event after the TTL: %s %T", got.Type, got.Object)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no DELETED event for the expired Event")
	}
	if _, err := c.CoreV1().Events("default").Get(ctx, "e1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("GET of the expired Event: %v, want 404", err)
	}
	if _, err := c.CoreV1().ConfigMaps("default").Get(ctx, "keep", metav1.GetOptions{}); err != nil {
		t.Errorf("ConfigMap after the Event TTL: %v", err)
	}
}

// startEventTTL runs an API server over a bolt store (whose sweeps the test drives through
// Expire) with the given event TTL, and returns the store and a client.
func startEventTTL(t *testing.T, ttl time.Duration) (*boltstore.Store, kubernetes.Interface) {
	t.Helper()
	st, err := boltstore.OpenWithOptions(filepath.Join(t.TempDir(), "state.db"), boltstore.Options{SweepInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	srv := apiservertest.StartConfig(t, apiserver.RunConfig{Store: st, EventTTL: ttl})
	c, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	return st, c
}
