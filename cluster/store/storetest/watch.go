package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-ci/drover/cluster/store"
)

// testWatchEventShapes writes one change at a time and waits for its event, so even a
// coalescing store must report each one.
func testWatchEventShapes(t *testing.T, s store.Store, opts Options) {
	ctx := t.Context()
	ch := watch(t, s, "pods/", 0)
	r1 := revOf(t)(s.Create(ctx, "pods/a", []byte("v1")))
	want := change{Type: store.Put, Key: "pods/a", Value: "v1", Created: true, Rev: r1}
	if diff := cmp.Diff(want, toChange(next(t, ch, opts))); diff != "" {
		t.Errorf("create event (-want +got):\n%s", diff)
	}
	r2 := revOf(t)(s.Update(ctx, "pods/a", []byte("v2"), r1))
	want = change{Type: store.Put, Key: "pods/a", Value: "v2", Prev: "v1", Rev: r2}
	if diff := cmp.Diff(want, toChange(next(t, ch, opts))); diff != "" {
		t.Errorf("update event (-want +got):\n%s", diff)
	}
	dr := revOf(t)(s.Delete(ctx, "pods/a", r2))
	ev := next(t, ch, opts)
	want = change{Type: store.Delete, Key: "pods/a", Prev: "v2", Rev: dr}
	if dr == 0 {
		want.Rev = ev.Revision
		if ev.Revision <= r2 {
			t.Errorf("delete event revision %d not after %d", ev.Revision, r2)
		}
	}
	if diff := cmp.Diff(want, toChange(ev)); diff != "" {
		t.Errorf("delete event (-want +got):\n%s", diff)
	}
}

func testWatchFromNow(t *testing.T, s store.Store, opts Options) {
	ctx := t.Context()
	revOf(t)(s.Create(ctx, "a", []byte("old")))
	ch := watch(t, s, "", 0)
	rb := revOf(t)(s.Create(ctx, "b", []byte("new")))
	if ev := next(t, ch, opts); ev.Key != "b" || ev.Revision != rb {
		t.Errorf("first event of a watch from now = %s, want the create of b", describe(ev))
	}
}

func testWatchPrefixIsolation(t *testing.T, s store.Store, opts Options) {
	ctx := t.Context()
	ch := watch(t, s, "pods/default/", 0)
	for _, k := range []string{"pods/default2/x", "pods/defaultx", "pods/other/a", "services/default/a", "pods/default"} {
		revOf(t)(s.Create(ctx, k, []byte("v")))
	}
	revOf(t)(s.Create(ctx, "pods/default/z", []byte("v")))
	if ev := next(t, ch, opts); ev.Key != "pods/default/z" {
		t.Errorf("watch on pods/default/ got %s", describe(ev))
	}
	revOf(t)(s.Update(ctx, "pods/default2/x", []byte("v2"), 0))
	revOf(t)(s.Delete(ctx, "pods/other/a", 0))
	quiet(t, ch, 200*time.Millisecond)
}

// script writes a mixed sequence under prefix: creates, updates, deletes of several keys.
func script(prefix string) []op {
	var ops []op
	for i := range 3 {
		ops = append(ops, op{"create", fmt.Sprintf("%sk%d", prefix, i), "c"})
	}
	for round := range 8 {
		for i := range 3 {
			ops = append(ops, op{"update", fmt.Sprintf("%sk%d", prefix, i), fmt.Sprintf("u%d", round)})
		}
	}
	ops = append(ops, op{"delete", prefix + "k1", ""}, op{"update", prefix + "k2", "last"})
	return append(ops, op{"delete", prefix + "k0", ""}, op{"create", prefix + "k3", "new"})
}

func testWatchOrder(t *testing.T, s store.Store, opts Options) {
	ch := watch(t, s, "o/", 0)
	m := model{}
	want := m.run(t, s, script("o/")...)
	revOf(t)(s.Create(t.Context(), "o/"+sentinel, nil))
	got := collect(t, ch, "o/", opts)
	check(t, "o/", got, want, model{}, opts)
	for i := 1; i < len(got); i++ {
		if got[i].Revision <= got[i-1].Revision && (!opts.MayCoalesce || got[i].Revision < got[i-1].Revision) {
			t.Errorf("event %d revision %d after %d", i, got[i].Revision, got[i-1].Revision)
		}
	}
}

// testListThenWatch lists, writes, and then watches from the list revision: the watch must
// see exactly the later changes under the prefix, whether it starts before or after them.
func testListThenWatch(t *testing.T, s store.Store, opts Options) {
	ctx := t.Context()
	for _, k := range []string{"p/a", "p/b", "q/x"} {
		revOf(t)(s.Create(ctx, k, []byte("v0")))
	}
	items, rev := listOf(t)(s.List(ctx, "p/"))
	early := watch(t, s, "p/", rev)
	m := modelOf(items)
	initial := modelOf(items)
	want := m.run(t, s, op{"update", "p/a", "v1"}, op{"delete", "p/b", ""}, op{"create", "p/c", "v1"})
	revOf(t)(s.Create(ctx, "q/y", []byte("outside")))
	late := watch(t, s, "p/", rev)
	revOf(t)(s.Create(ctx, "p/"+sentinel, nil))
	check(t, "p/", collect(t, early, "p/", opts), want, initial, opts)
	check(t, "p/", collect(t, late, "p/", opts), want, initial, opts)
}

func testWatchReplay(t *testing.T, s store.Store, opts Options) {
	m := model{}
	m.run(t, s, op{"create", "r/a", "1"}, op{"create", "r/b", "1"})
	items, from := listOf(t)(s.List(t.Context(), "r/"))
	want := m.run(t, s, op{"update", "r/a", "2"}, op{"delete", "r/b", ""}, op{"create", "r/c", "1"}, op{"update", "r/c", "2"})
	revOf(t)(s.Create(t.Context(), "r/"+sentinel, nil))
	// Everything is written before the watch starts: it can only come from history.
	ch := watch(t, s, "r/", from)
	check(t, "r/", collect(t, ch, "r/", opts), want, modelOf(items), opts)
}

func testWatchCancel(t *testing.T, s store.Store, opts Options) {
	ctx, cancel := context.WithCancel(t.Context())
	ch := chanOf(t)(s.Watch(ctx, "", 0))
	revOf(t)(s.Create(t.Context(), "a", []byte("v")))
	cancel()
	deadline := time.After(opts.Timeout)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("watch channel still open %v after its context was cancelled", opts.Timeout)
		}
	}
}

// testWatchCompacted watches from a revision many writes ago. With CompactAfter the store must
// refuse with ErrCompacted; otherwise it may also replay, and then completely and in order.
func testWatchCompacted(t *testing.T, s store.Store, opts Options) {
	ctx := t.Context()
	writes := opts.CompactAfter
	if writes <= 0 {
		writes = 300
	}
	first := revOf(t)(s.Create(ctx, "c/k", []byte("0")))
	var last int64
	for i := 1; i <= writes; i++ {
		last = revOf(t)(s.Update(ctx, "c/k", []byte(fmt.Sprint(i)), 0))
	}
	ch, err := s.Watch(ctx, "c/", first)
	if errors.Is(err, store.ErrCompacted) {
		return
	}
	if err != nil {
		t.Fatalf("Watch from an old revision: %v, want ErrCompacted or a replay", err)
	}
	prev := first
	for {
		var ev store.Event
		select {
		case ev = <-ch:
		case <-time.After(opts.Timeout):
			t.Fatal("watch from an old revision neither replayed nor failed")
		}
		if ev.Type == store.Error && errors.Is(ev.Err, store.ErrCompacted) {
			return
		}
		if opts.CompactAfter > 0 {
			t.Fatalf("watch from revision %d after %d writes got %s, want ErrCompacted", first, writes, describe(ev))
		}
		if ev.Type != store.Put || ev.Revision <= prev {
			t.Fatalf("replay event %s after revision %d", describe(ev), prev)
		}
		prev = ev.Revision
		if ev.Revision == last {
			if string(ev.Value) != fmt.Sprint(writes) {
				t.Errorf("last replayed value %q, want %d", ev.Value, writes)
			}
			return
		}
	}
}
