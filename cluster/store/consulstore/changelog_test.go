package consulstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/drover-ci/drover/cluster/store"
	"github.com/drover-ci/drover/cluster/store/consulstore/consultest"
)

// TestWatchLoopReadsOnlyTheChangeLog: with 1,500 keys stored, one more write costs the watch
// loop at most the (trimmed) change log, not a listing of every key as the loop did before the
// log: the 1,500 keys are never read again, and the write's event carries its value.
func TestWatchLoopReadsOnlyTheChangeLog(t *testing.T) {
	a := consultest.Start(t)
	s, err := New(Config{Address: a.Addr, Prefix: "changelog-test/", WaitTime: 10 * time.Second, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	const n = 1500
	var g errgroup.Group
	g.SetLimit(16)
	for i := range n {
		g.Go(func() error {
			_, err := s.Create(ctx, fmt.Sprintf("core/pods/default/p%04d", i), []byte("v"))
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	ch, err := s.Watch(ctx, "core/pods/", 0)
	if err != nil {
		t.Fatal(err)
	}
	marker := func(key string) int64 {
		rev, err := s.Create(ctx, key, []byte(key))
		if err != nil {
			t.Fatal(err)
		}
		for {
			select {
			case ev := <-ch:
				if ev.Type == store.Error {
					t.Fatalf("watch ended: %v", ev.Err)
				}
				if ev.Key == key {
					if ev.Revision != rev || string(ev.Value) != key || !ev.Created {
						t.Errorf("event %+v, want the create of %s at %d", ev, key, rev)
					}
					return s.loop.pairsRead.Load()
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("no event for %s", key)
			}
		}
	}
	before := marker("core/pods/default/m1")
	after := marker("core/pods/default/m2")
	if read := after - before; read > logKeep+2 {
		t.Errorf("the watch loop read %d entries for one write among %d keys, want at most the change log (%d)", read, n, logKeep)
	} else {
		t.Logf("one write among %d keys: the watch loop read %d entries", n, read)
	}
}
