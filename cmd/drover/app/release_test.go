package app

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"

	"github.com/drover-ci/drover/cluster/store/boltstore"

	"github.com/drover-ci/drover/internal/logtest"
)

// TestServerReleasesLeaseOnStop: a drover server that stops releases the controller manager's
// Lease through its own API server (client-go's ReleaseOnCancel), so its log has no "Failed to
// release lock" and the stored Lease names no holder: a successor takes over at once.
func TestServerReleasesLeaseOnStop(t *testing.T) {
	var stderr logtest.Buffer
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"server", "--data-dir", dir, "--listen", "127.0.0.1:0"},
			Streams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &stderr})
	}()
	deadline := time.After(60 * time.Second)
	for !strings.Contains(stderr.String(), "controller manager: leading") {
		select {
		case err := <-done:
			t.Fatalf("drover server ended: %v\nstderr:\n%s", err, stderr.String())
		case <-deadline:
			t.Fatalf("not leading within 60 s:\n%s", stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("drover server still ran 30 s after its context ended")
	}
	if strings.Contains(stderr.String(), "Failed to release lock") {
		t.Errorf("the stop logged a failed Lease release:\n%s", stderr.String())
	}
	st, err := boltstore.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kv, err := st.Get(context.Background(), "coordination.k8s.io/leases/kube-system/drover-controller-manager")
	if err != nil {
		t.Fatalf("the controller manager's Lease: %v", err)
	}
	var lease coordinationv1.Lease
	if err := json.Unmarshal(kv.Value, &lease); err != nil {
		t.Fatal(err)
	}
	if h := lease.Spec.HolderIdentity; h != nil && *h != "" {
		t.Errorf("the Lease still names %q after the server stopped", *h)
	}
}
