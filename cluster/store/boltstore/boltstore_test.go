package boltstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-ci/drover/cluster/store"
	"github.com/drover-ci/drover/cluster/store/boltstore"
	"github.com/drover-ci/drover/cluster/store/storetest"
)

func open(t testing.TB, path string, opts boltstore.Options) *boltstore.Store {
	t.Helper()
	s, err := boltstore.OpenWithOptions(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "state.db"), boltstore.Options{})
	})
}

func TestConformanceSmallHistory(t *testing.T) {
	storetest.RunWithOptions(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "state.db"), boltstore.Options{History: 32})
	}, storetest.Options{CompactAfter: 50})
}

func TestReopenKeepsValuesAndRevisions(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ra, _ := s.Create(ctx, "pods/default/a", []byte("a1"))
	rb, _ := s.Create(ctx, "pods/default/b", []byte("b1"))
	ra, _ = s.Update(ctx, "pods/default/a", []byte("a2"), ra)
	rd, err := s.Delete(ctx, "pods/default/b", rb)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path, boltstore.Options{})
	defer s.Close()
	items, rev, err := s.List(ctx, "pods/")
	if err != nil {
		t.Fatal(err)
	}
	want := []store.KV{{Key: "pods/default/a", Value: []byte("a2"), Revision: ra}}
	if diff := cmp.Diff(want, items); diff != "" {
		t.Errorf("List after reopen (-want +got):\n%s", diff)
	}
	if got, _ := s.Revision(ctx); rev != rd || got != rd {
		t.Errorf("revision after reopen: List %d, Revision %d, want %d", rev, got, rd)
	}
	if _, err := s.Watch(ctx, "pods/", ra); !errors.Is(err, store.ErrCompacted) {
		t.Errorf("watch from before the reopen: err = %v, want ErrCompacted", err)
	}
	ch, err := s.Watch(ctx, "pods/", rev)
	if err != nil {
		t.Fatalf("watch from the reopen revision: %v", err)
	}
	rc, err := s.Create(ctx, "pods/default/c", []byte("c"))
	if err != nil {
		t.Fatal(err)
	}
	if rc != rd+1 {
		t.Errorf("first revision after reopen = %d, want %d", rc, rd+1)
	}
	select {
	case ev := <-ch:
		if ev.Key != "pods/default/c" || ev.Revision != rc || !ev.Created {
			t.Errorf("event after reopen = %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event after reopen")
	}
}

func TestSecondOpenFailsNamingTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path, boltstore.Options{})
	defer s.Close()
	start := time.Now()
	_, err := boltstore.OpenWithOptions(path, boltstore.Options{LockTimeout: 200 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "locked") {
		t.Errorf("second open: err = %v, want a lock error naming %s", err, path)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("second open took %v, want about the lock timeout", d)
	}
}

func TestOpenRejectsForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "not-bolt.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a bolt file ", 1024)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := boltstore.Open(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("open of a foreign file: err = %v, want an error naming it", err)
	}
}

func TestClosedIsUnavailable(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "state.db"), boltstore.Options{})
	ch, err := s.Watch(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, ok := <-ch; ok {
		t.Error("watch channel still open after Close")
	}
	if _, err := s.Get(ctx, "k"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Get after Close: err = %v, want ErrUnavailable", err)
	}
	if _, _, err := s.List(ctx, ""); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("List after Close: err = %v, want ErrUnavailable", err)
	}
	if _, err := s.Create(ctx, "k", nil); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Create after Close: err = %v, want ErrUnavailable", err)
	}
	if _, err := s.Watch(ctx, "", 0); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Watch after Close: err = %v, want ErrUnavailable", err)
	}
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) store.Store {
		return open(b, filepath.Join(b.TempDir(), "state.db"), boltstore.Options{})
	})
}
