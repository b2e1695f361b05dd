package storetest

import (
	"testing"
	"time"

	"github.com/drover-ci/drover/cluster/store"
)

// testTTL (stores implementing store.TTLStore): a key created with a TTL is deleted, with a
// Delete event, once its TTL ran out since its last write; an Update renews the TTL; a key
// without one, or deleted and created again without one, stays.
func testTTL(t *testing.T, s store.Store, opts Options) {
	ts, ok := s.(store.TTLStore)
	if !ok {
		t.Skip("the store has no TTL support") // optional interface: nothing to check
	}
	ctx := t.Context()
	const ttl = time.Hour
	ch := watch(t, s, "ev/", 0)
	revOf(t)(ts.CreateWithTTL(ctx, "ev/a", []byte("a"), ttl))
	revOf(t)(s.Create(ctx, "ev/b", []byte("b")))
	revOf(t)(ts.CreateWithTTL(ctx, "ev/c", []byte("c"), ttl))
	revOf(t)(s.Delete(ctx, "ev/c", 0))
	revOf(t)(s.Create(ctx, "ev/c", []byte("c2")))
	revOf(t)(ts.CreateWithTTL(ctx, "ev/d", []byte("d"), ttl))
	// mark is after every create and before the update: a and d's first deadlines are before
	// mark+ttl, d's renewed one after it.
	mark := after(time.Now())
	after(mark)
	revOf(t)(s.Update(ctx, "ev/d", []byte("d2"), 0))
	for range 7 { // the writes above
		next(t, ch, opts)
	}

	n, err := ts.Expire(ctx, mark.Add(ttl))
	if err != nil || n != 1 {
		t.Fatalf("Expire at the first deadlines = %d, %v; want 1 (ev/a; ev/d was renewed)", n, err)
	}
	if ev := next(t, ch, opts); ev.Type != store.Delete || ev.Key != "ev/a" || string(ev.PrevValue) != "a" {
		t.Errorf("event of the expiry = %s, want the delete of ev/a", describe(ev))
	}
	n, err = ts.Expire(ctx, time.Now().Add(3*ttl))
	if err != nil || n != 1 {
		t.Fatalf("Expire after every TTL = %d, %v; want 1 (ev/d)", n, err)
	}
	if ev := next(t, ch, opts); ev.Type != store.Delete || ev.Key != "ev/d" || string(ev.PrevValue) != "d2" {
		t.Errorf("event of the second expiry = %s, want the delete of ev/d", describe(ev))
	}
	items, _ := listOf(t)(s.List(ctx, "ev/"))
	var keys []string
	for _, kv := range items {
		keys = append(keys, kv.Key+"="+string(kv.Value))
	}
	if len(keys) != 2 || keys[0] != "ev/b=b" || keys[1] != "ev/c=c2" {
		t.Errorf("after the expiries: %v, want ev/b=b ev/c=c2", keys)
	}
	if n, err := ts.Expire(ctx, time.Now().Add(10*ttl)); err != nil || n != 0 {
		t.Errorf("Expire with nothing due = %d, %v", n, err)
	}
}

// after waits until the clock has passed t and returns the time then.
func after(t time.Time) time.Time {
	for {
		if now := time.Now(); now.After(t) {
			return now
		}
	}
}
