// Package storetest is the conformance suite every store.Store implementation passes: it checks
// each guarantee of the store package documentation. Use it from the implementation's tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return memstore.New() })
//	}
package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/drover-ci/drover/cluster/store"
)

// Options tune the suite to what a backend can promise.
type Options struct {
	// MayCoalesce allows a watch to merge several changes seen between two observations (the
	// Consul store): the suite then checks order, final state and that no delete is lost
	// instead of every intermediate event, and revisions need only be non-decreasing.
	MayCoalesce bool
	// CompactAfter, when positive, is a number of writes after which a watch from the first of
	// them must fail with ErrCompacted (the store retains less history than that). When zero the
	// suite still makes a few hundred writes and accepts either ErrCompacted or a full replay.
	CompactAfter int
	// Timeout bounds the wait for one expected event; default 10 s.
	Timeout time.Duration
}

// NewStore returns an empty store for one subtest. The suite closes it when the subtest ends,
// so a store shared behind the scenes (one Consul agent) should be given a fresh prefix.
type NewStore func(t *testing.T) store.Store

// Run runs the whole suite for a store that delivers every event.
func Run(t *testing.T, newStore NewStore) {
	RunWithOptions(t, newStore, Options{})
}

// RunWithOptions runs the whole suite with options.
func RunWithOptions(t *testing.T, newStore NewStore, opts Options) {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store, Options)
	}{
		{"CreateGet", testCreateGet},
		{"ValuesAreCopied", testValuesAreCopied},
		{"Update", testUpdate},
		{"Delete", testDelete},
		{"ListPrefixAndOrder", testListPrefixAndOrder},
		{"RevisionsIncrease", testRevisionsIncrease},
		{"ConcurrentCAS", testConcurrentCAS},
		{"ConcurrentMixed", testConcurrentMixed},
		{"WatchEventShapes", testWatchEventShapes},
		{"WatchFromNow", testWatchFromNow},
		{"WatchPrefixIsolation", testWatchPrefixIsolation},
		{"WatchOrder", testWatchOrder},
		{"ListThenWatch", testListThenWatch},
		{"WatchReplay", testWatchReplay},
		{"WatchCancel", testWatchCancel},
		{"WatchCompacted", testWatchCompacted},
		{"TTL", testTTL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s, opts)
		})
	}
}

// revOf, kvOf, chanOf and listOf fail the test on a non-nil error and return the value.
func revOf(t *testing.T) func(int64, error) int64 {
	return func(v int64, err error) int64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func kvOf(t *testing.T) func(store.KV, error) store.KV {
	return func(v store.KV, err error) store.KV {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func chanOf(t *testing.T) func(<-chan store.Event, error) <-chan store.Event {
	return func(v <-chan store.Event, err error) <-chan store.Event {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func listOf(t *testing.T) func([]store.KV, int64, error) ([]store.KV, int64) {
	return func(items []store.KV, rev int64, err error) ([]store.KV, int64) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return items, rev
	}
}

// wantErr fails unless errors.Is(err, want).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: err = %v, want %v", what, err, want)
	}
}

// next returns the next event or fails when none comes within the timeout or the channel closes.
func next(t *testing.T, ch <-chan store.Event, opts Options) store.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed unexpectedly")
		}
		if ev.Type == store.Error {
			t.Fatalf("watch ended with error: %v", ev.Err)
		}
		return ev
	case <-time.After(opts.Timeout):
		t.Fatalf("no watch event within %v", opts.Timeout)
	}
	return store.Event{}
}

// quiet fails if an event arrives within d.
func quiet(t *testing.T, ch <-chan store.Event, d time.Duration) {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if ok {
			t.Errorf("unexpected event %s", describe(ev))
		}
	case <-time.After(d):
	}
}

func watch(t *testing.T, s store.Store, prefix string, from int64) <-chan store.Event {
	t.Helper()
	return chanOf(t)(s.Watch(t.Context(), prefix, from))
}
