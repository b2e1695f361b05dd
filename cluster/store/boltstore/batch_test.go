package boltstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/drover-ci/drover/cluster/store"
)

// TestGroupCommit queues writes while a batch is in flight (the test holds the commit lock in
// its place): they commit in one transaction, each with its own revision or its own error
// (one failing write fails none of its batch-mates), and their events arrive in revision order.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r1, err := s.Create(ctx, "k/taken", []byte("v1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, "k/taken", []byte("v2"), r1); err != nil {
		t.Fatal(err)
	}
	ch, err := s.Watch(ctx, "k/", 0)
	if err != nil {
		t.Fatal(err)
	}

	const n = 40
	errs := make([]error, n)
	revs := make([]int64, n)
	s.commit.Lock()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch i % 4 {
			case 0:
				_, errs[i] = s.Create(ctx, "k/taken", []byte("dup"))
			case 1:
				_, errs[i] = s.Update(ctx, "k/taken", []byte("stale"), r1)
			default:
				revs[i], errs[i] = s.Create(ctx, fmt.Sprintf("k/%02d", i), []byte("v"))
			}
		}()
	}
	for queued := 0; queued < n; {
		s.qmu.Lock()
		queued = len(s.queue)
		s.qmu.Unlock()
		runtime.Gosched()
	}
	commitsBefore := s.commits.Load()
	s.commit.Unlock()
	wg.Wait()
	if got := s.commits.Load() - commitsBefore; got != 1 {
		t.Errorf("%d queued writes took %d transactions, want 1", n, got)
	}
	seen := map[int64]bool{}
	for i := range n {
		switch i % 4 {
		case 0:
			if !errors.Is(errs[i], store.ErrExists) {
				t.Errorf("write %d: err = %v, want ErrExists", i, errs[i])
			}
		case 1:
			if !errors.Is(errs[i], store.ErrConflict) {
				t.Errorf("write %d: err = %v, want ErrConflict", i, errs[i])
			}
		default:
			if errs[i] != nil || seen[revs[i]] {
				t.Errorf("write %d: revision %d, err %v: want its own revision", i, revs[i], errs[i])
			}
			seen[revs[i]] = true
		}
	}
	var last int64
	for range n / 2 {
		ev := <-ch
		if ev.Type != store.Put || !seen[ev.Revision] || ev.Revision <= last {
			t.Fatalf("event %+v after revision %d: want the batch's creates in revision order", ev, last)
		}
		last = ev.Revision
	}
}
