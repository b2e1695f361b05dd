package boltstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/drover-ci/drover/cluster/store"
	"github.com/drover-ci/drover/cluster/store/boltstore"
	"github.com/drover-ci/drover/internal/uptest"
)

// fill creates n keys of size bytes each, 16 writers at a time, and returns their revisions
// by key.
func fill(t *testing.T, s *boltstore.Store, n, size int) map[string]int64 {
	t.Helper()
	value := []byte(strings.Repeat("v", size))
	revs := map[string]int64{}
	var mu sync.Mutex
	parallel(t, n, func(i int) error {
		key := fmt.Sprintf("core/events/default/e%05d", i)
		rev, err := s.Create(context.Background(), key, value)
		mu.Lock()
		revs[key] = rev
		mu.Unlock()
		return err
	})
	return revs
}

// parallel runs f(0..n-1) on 16 goroutines and fails the test on an error.
func parallel(t *testing.T, n int, f func(i int) error) {
	t.Helper()
	var g errgroup.Group
	g.SetLimit(16)
	for i := range n {
		g.Go(func() error { return f(i) })
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

// deleteAll deletes keys at their revisions, 16 at a time, and returns the newest revision.
func deleteAll(t *testing.T, s *boltstore.Store, revs map[string]int64) int64 {
	t.Helper()
	keys := make([]string, 0, len(revs))
	for k := range revs {
		keys = append(keys, k)
	}
	var last atomic.Int64
	parallel(t, len(keys), func(i int) error {
		r, err := s.Delete(context.Background(), keys[i], revs[keys[i]])
		for cur := last.Load(); r > cur && !last.CompareAndSwap(cur, r); cur = last.Load() {
		}
		return err
	})
	return last.Load()
}

// TestCompactFreesSpace: deletes leave free pages in the file (bbolt never shrinks it); Compact
// gives them back to the file system, and keeps every value, revision and open watch.
func TestCompactFreesSpace(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path, boltstore.Options{CompactMinFree: -1})
	defer s.Close()
	revs := fill(t, s, 2000, 8<<10)
	kept := map[string]int64{}
	for key, rev := range revs {
		if len(kept) < 100 {
			kept[key] = rev
			delete(revs, key)
		}
	}
	last := deleteAll(t, s, revs)
	full, err := s.Space()
	if err != nil {
		t.Fatal(err)
	}
	if full.FreePageBytes < full.FileBytes/2 {
		t.Fatalf("after deleting 95%% of the data: %+v, want most of the file in free pages", full)
	}
	if u, err := s.Usage(); err != nil || u.FreePageBytes != full.FreePageBytes {
		t.Errorf("Usage = %+v, %v; want FreePageBytes %d", u, err, full.FreePageBytes)
	}
	ch, err := s.Watch(ctx, "core/events/", 0)
	if err != nil {
		t.Fatal(err)
	}
	before, after, err := s.Compact(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if before != full.FileBytes || after > before/4 {
		t.Errorf("Compact: %d → %d bytes, want the %d-byte file under a quarter", before, after, full.FileBytes)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != after {
		t.Errorf("file after Compact: %v, %v; want %d bytes", fi, err, after)
	}
	if _, err := os.Stat(path + ".compact"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("compaction left its copy: %v", err)
	}
	items, rev, err := s.List(ctx, "core/events/")
	if err != nil || len(items) != len(kept) || rev != last {
		t.Fatalf("List after Compact: %d items at %d, %v; want %d at %d", len(items), rev, err, len(kept), last)
	}
	for _, kv := range items {
		if kept[kv.Key] != kv.Revision {
			t.Errorf("%s at revision %d after Compact, want %d", kv.Key, kv.Revision, kept[kv.Key])
		}
	}
	r, err := s.Create(ctx, "core/events/default/new", []byte("x"))
	if err != nil || r != last+1 {
		t.Fatalf("write after Compact: revision %d, %v; want %d", r, err, last+1)
	}
	if ev := <-ch; ev.Key != "core/events/default/new" || ev.Revision != r {
		t.Errorf("watch across Compact got %+v", ev)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path, boltstore.Options{})
	defer s.Close()
	if kv, err := s.Get(ctx, "core/events/default/new"); err != nil || kv.Revision != r {
		t.Errorf("after reopen: %+v, %v", kv, err)
	}
}

// TestAutoCompaction: once the free pages pass the configured bytes and ratio, the store
// compacts by itself.
func TestAutoCompaction(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path, boltstore.Options{CompactInterval: 20 * time.Millisecond, CompactMinFree: 1 << 20, CompactRatio: 0.5})
	defer s.Close()
	deleteAll(t, s, fill(t, s, 1000, 8<<10))
	// 8 MB were written and deleted: until a compaction bbolt's pages (used and free) hold at
	// least that. After one they are few, and the file is no larger than they are plus the
	// 16 MiB bbolt grows a file mapped ahead by at a time.
	uptest.Eventually(t, 30*time.Second, "the file compacted", func() bool {
		fi, err := os.Stat(path)
		sp, serr := s.Space()
		allocated := sp.UsedBytes + sp.FreePageBytes
		return err == nil && serr == nil && s.Compactions() > 0 && allocated < 1<<20 && fi.Size() <= allocated+17<<20
	})
	if _, err := s.Create(ctx, "core/events/default/after", []byte("x")); err != nil {
		t.Fatal(err)
	}
}

// compactOnFullDisk is TestFullTmpfs's last step: with the disk full, a compaction either
// shrinks the file or fails with store.ErrNoSpace leaving no partial copy; the store serves
// reads and writes either way.
func compactOnFullDisk(t *testing.T, s *boltstore.Store, path string) {
	ctx := context.Background()
	before, after, err := s.Compact(ctx)
	switch {
	case err == nil:
		if after >= before {
			t.Errorf("Compact on a full disk: %d → %d bytes", before, after)
		}
	case errors.Is(err, store.ErrNoSpace):
		t.Logf("Compact on a full disk: %v (free pages are reused instead)", err)
	default:
		t.Errorf("Compact on a full disk: %v, want success or store.ErrNoSpace", err)
	}
	if _, err := os.Stat(path + ".compact"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("compaction left its copy: %v", err)
	}
	if _, err := s.Create(ctx, "core/configmaps/default/after-compact", []byte("x")); err != nil {
		t.Errorf("write after the compaction attempt: %v", err)
	}
}
