package storetest

import (
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/drover-ci/drover/cluster/store"
)

// testConcurrentMixed starts many writers at once, some bound to fail (Create of an existing
// key, Update with a stale revision, Delete of a missing key) and the others not: each write
// gets its own answer whatever its neighbours do (a store that commits them together must not
// fail a batch for one bad write), the successful ones get distinct revisions, and a watch sees
// exactly them, in revision order.
func testConcurrentMixed(t *testing.T, s store.Store, opts Options) {
	ctx := t.Context()
	stale := revOf(t)(s.Create(ctx, "m/taken", []byte("0")))
	revOf(t)(s.Update(ctx, "m/taken", []byte("1"), stale))
	ch := watch(t, s, "m/", 0)
	const n = 64
	type result struct {
		kind string
		key  string
		rev  int64
		err  error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := result{key: fmt.Sprintf("m/k%02d", i)}
			switch i % 4 {
			case 0:
				r.kind, r.key = "exists", "m/taken"
				r.rev, r.err = s.Create(ctx, r.key, []byte("dup"))
			case 1:
				r.kind, r.key = "conflict", "m/taken"
				r.rev, r.err = s.Update(ctx, r.key, []byte("stale"), stale)
			case 2:
				r.kind, r.key = "notfound", fmt.Sprintf("m/missing%02d", i)
				r.rev, r.err = s.Delete(ctx, r.key, 0)
			default:
				r.kind = "ok"
				r.rev, r.err = s.Create(ctx, r.key, []byte(r.key))
			}
			results[i] = r
		}()
	}
	wg.Wait()
	want := map[string]error{"exists": store.ErrExists, "conflict": store.ErrConflict, "notfound": store.ErrNotFound}
	revs := map[int64]string{}
	for _, r := range results {
		if r.kind != "ok" {
			wantErr(t, r.kind+" write among concurrent writes", r.err, want[r.kind])
			continue
		}
		if r.err != nil {
			t.Errorf("create %s among concurrent failing writes: %v", r.key, r.err)
			continue
		}
		if other, dup := revs[r.rev]; dup && !opts.MayCoalesce {
			t.Errorf("creates of %s and %s share revision %d", other, r.key, r.rev)
		}
		revs[r.rev] = r.key
		if got := kvOf(t)(s.Get(ctx, r.key)); string(got.Value) != r.key || got.Revision != r.rev {
			t.Errorf("Get %s = %q@%d, want its own value at %d", r.key, got.Value, got.Revision, r.rev)
		}
	}
	if got := kvOf(t)(s.Get(ctx, "m/taken")); string(got.Value) != "1" {
		t.Errorf("m/taken = %q after failing writes, want 1", got.Value)
	}
	var seen []int64
	for len(seen) < n/4 {
		ev := next(t, ch, opts)
		if ev.Type != store.Put || !ev.Created || revs[ev.Revision] != ev.Key {
			t.Fatalf("watch got %s, want only the successful creates", describe(ev))
		}
		if len(seen) > 0 && ev.Revision <= seen[len(seen)-1] {
			t.Errorf("watch revision %d after %d", ev.Revision, seen[len(seen)-1])
		}
		seen = append(seen, ev.Revision)
	}
	if !sort.SliceIsSorted(seen, func(i, j int) bool { return seen[i] < seen[j] }) {
		t.Errorf("watch revisions out of order: %v", seen)
	}
}
