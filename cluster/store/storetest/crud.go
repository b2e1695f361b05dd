package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-ci/drover/cluster/store"
)

func testCreateGet(t *testing.T, s store.Store, _ Options) {
	ctx := t.Context()
	rev := revOf(t)(s.Create(ctx, "pods/default/a", []byte("one")))
	if rev <= 0 {
		t.Errorf("Create revision = %d, want > 0", rev)
	}
	got := kvOf(t)(s.Get(ctx, "pods/default/a"))
	want := store.KV{Key: "pods/default/a", Value: []byte("one"), Revision: rev}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}
	_, err := s.Create(ctx, "pods/default/a", []byte("two"))
	wantErr(t, "Create of an existing key", err, store.ErrExists)
	if got := kvOf(t)(s.Get(ctx, "pods/default/a")); string(got.Value) != "one" || got.Revision != rev {
		t.Errorf("failed Create changed the value: %+v", got)
	}
	_, err = s.Get(ctx, "pods/default/missing")
	wantErr(t, "Get of a missing key", err, store.ErrNotFound)
	_, err = s.Get(ctx, "pods/default")
	wantErr(t, "Get of a key prefix", err, store.ErrNotFound)
	if r := revOf(t)(s.Revision(ctx)); r < rev {
		t.Errorf("Revision() = %d, older than the write at %d", r, rev)
	}
}

func testValuesAreCopied(t *testing.T, s store.Store, _ Options) {
	ctx := t.Context()
	v := []byte("original")
	revOf(t)(s.Create(ctx, "k", v))
	copy(v, "XXXXXXXX")
	got := kvOf(t)(s.Get(ctx, "k"))
	if string(got.Value) != "original" {
		t.Errorf("store kept the caller's slice: %q", got.Value)
	}
	copy(got.Value, "YYYYYYYY")
	items, _ := listOf(t)(s.List(ctx, ""))
	if len(items) != 1 || string(items[0].Value) != "original" {
		t.Errorf("store handed out its own slice: %+v", items)
	}
}

func testUpdate(t *testing.T, s store.Store, _ Options) {
	ctx := t.Context()
	r1 := revOf(t)(s.Create(ctx, "k", []byte("v1")))
	r2 := revOf(t)(s.Update(ctx, "k", []byte("v2"), r1))
	if r2 <= r1 {
		t.Errorf("Update revision %d not after %d", r2, r1)
	}
	if got := kvOf(t)(s.Get(ctx, "k")); string(got.Value) != "v2" || got.Revision != r2 {
		t.Errorf("Get after Update = %q@%d, want v2@%d", got.Value, got.Revision, r2)
	}
	_, err := s.Update(ctx, "k", []byte("stale"), r1)
	wantErr(t, "Update with a stale revision", err, store.ErrConflict)
	if got := kvOf(t)(s.Get(ctx, "k")); string(got.Value) != "v2" {
		t.Errorf("conflicting Update changed the value to %q", got.Value)
	}
	r3 := revOf(t)(s.Update(ctx, "k", []byte("v3"), 0))
	if r3 <= r2 {
		t.Errorf("unconditional Update revision %d not after %d", r3, r2)
	}
	_, err = s.Update(ctx, "missing", []byte("x"), 0)
	wantErr(t, "unconditional Update of a missing key", err, store.ErrNotFound)
	_, err = s.Update(ctx, "missing", []byte("x"), r3)
	wantErr(t, "Update of a missing key", err, store.ErrNotFound)
	if _, err := s.Get(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("failed Update created the key (Get err = %v)", err)
	}
}

func testDelete(t *testing.T, s store.Store, _ Options) {
	ctx := t.Context()
	r1 := revOf(t)(s.Create(ctx, "a", []byte("v1")))
	r2 := revOf(t)(s.Update(ctx, "a", []byte("v2"), r1))
	_, err := s.Delete(ctx, "a", r1)
	wantErr(t, "Delete with a stale revision", err, store.ErrConflict)
	if _, err := s.Get(ctx, "a"); err != nil {
		t.Fatalf("conflicting Delete removed the key: %v", err)
	}
	dr := revOf(t)(s.Delete(ctx, "a", r2))
	if dr != 0 && dr <= r2 {
		t.Errorf("Delete revision %d not after %d", dr, r2)
	}
	_, err = s.Get(ctx, "a")
	wantErr(t, "Get after Delete", err, store.ErrNotFound)
	_, err = s.Delete(ctx, "a", 0)
	wantErr(t, "Delete of a missing key", err, store.ErrNotFound)
	_, err = s.Delete(ctx, "a", r2)
	wantErr(t, "Delete of a missing key with a revision", err, store.ErrNotFound)

	revOf(t)(s.Create(ctx, "b", []byte("v")))
	revOf(t)(s.Delete(ctx, "b", 0))
	_, err = s.Get(ctx, "b")
	wantErr(t, "Get after unconditional Delete", err, store.ErrNotFound)
	// A deleted key can be created again, with a newer revision.
	r := revOf(t)(s.Create(ctx, "a", []byte("again")))
	if r <= r2 || (dr != 0 && r <= dr) {
		t.Errorf("re-Create revision %d not after %d/%d", r, r2, dr)
	}
}

func testListPrefixAndOrder(t *testing.T, s store.Store, _ Options) {
	ctx := t.Context()
	var maxRev int64
	for _, k := range []string{"pods/default2/x", "pods/default/c", "pods/default/a", "pods/kube/a", "pods/default/b/x", "pods/default"} {
		maxRev = max(maxRev, revOf(t)(s.Create(ctx, k, []byte("v-"+k))))
	}
	items, rev := listOf(t)(s.List(ctx, "pods/default/"))
	var keys []string
	for _, kv := range items {
		keys = append(keys, kv.Key)
		if string(kv.Value) != "v-"+kv.Key || kv.Revision <= 0 || kv.Revision > rev {
			t.Errorf("item %+v: wrong value or revision (list revision %d)", kv, rev)
		}
	}
	if diff := cmp.Diff([]string{"pods/default/a", "pods/default/b/x", "pods/default/c"}, keys); diff != "" {
		t.Errorf("List keys (-want +got):\n%s", diff)
	}
	if rev < maxRev {
		t.Errorf("List revision %d older than the newest write %d", rev, maxRev)
	}
	all, _ := listOf(t)(s.List(ctx, ""))
	if len(all) != 6 {
		t.Errorf("List(\"\") returned %d items, want 6", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i-1].Key >= all[i].Key {
			t.Errorf("List(\"\") not sorted: %q before %q", all[i-1].Key, all[i].Key)
		}
	}
	none, _ := listOf(t)(s.List(ctx, "services/"))
	if len(none) != 0 {
		t.Errorf("List of an empty prefix = %+v", none)
	}
}

func testRevisionsIncrease(t *testing.T, s store.Store, _ Options) {
	ctx := t.Context()
	var last int64
	check := func(what string, rev int64) {
		t.Helper()
		if rev == 0 && what == "delete" {
			return // a backend may not know the revision of a delete
		}
		if rev <= last {
			t.Errorf("%s revision %d not after %d", what, rev, last)
		}
		last = rev
	}
	for i := range 5 {
		k := fmt.Sprintf("k%d", i)
		r := revOf(t)(s.Create(ctx, k, []byte("a")))
		check("create", r)
		r = revOf(t)(s.Update(ctx, k, []byte("b"), r))
		check("update", r)
		if i%2 == 0 {
			check("delete", revOf(t)(s.Delete(ctx, k, r)))
		}
	}
	if r := revOf(t)(s.Revision(ctx)); r < last {
		t.Errorf("Revision() = %d, older than the last write %d", r, last)
	}
	if _, rev := listOf(t)(s.List(ctx, "")); rev < last {
		t.Errorf("List revision %d older than the last write %d", rev, last)
	}
}

// testConcurrentCAS runs writers that increment one counter with Get + Update + retry on
// conflict: optimistic concurrency must lose no increment.
func testConcurrentCAS(t *testing.T, s store.Store, opts Options) {
	const writers, each = 8, 15
	ctx := t.Context()
	revOf(t)(s.Create(ctx, "counter", []byte("0")))
	ch := watch(t, s, "counter", 0)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if err := increment(t, s); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := fmt.Sprint(writers * each)
	if got := kvOf(t)(s.Get(ctx, "counter")); string(got.Value) != want {
		t.Errorf("counter = %s, want %s", got.Value, want)
	}
	var last int64
	for {
		ev := next(t, ch, opts)
		if ev.Revision <= last {
			t.Errorf("watch revision %d not after %d", ev.Revision, last)
		}
		last = ev.Revision
		if string(ev.Value) == want {
			return
		}
	}
}

func increment(t *testing.T, s store.Store) error {
	ctx := t.Context()
	for attempt := 0; attempt < 1000; attempt++ {
		kv, err := s.Get(ctx, "counter")
		if err != nil {
			return err
		}
		var n int
		if _, err := fmt.Sscan(string(kv.Value), &n); err != nil {
			return err
		}
		_, err = s.Update(ctx, "counter", []byte(fmt.Sprint(n+1)), kv.Revision)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		return err
	}
	return errors.New("increment: too many conflicts")
}
