package consulstore_test

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/drover-ci/drover/cluster/store"
	"github.com/drover-ci/drover/cluster/store/consulstore"
	"github.com/drover-ci/drover/cluster/store/consulstore/consultest"
	"github.com/drover-ci/drover/cluster/store/storetest"
)

var prefixes atomic.Int64

// newStore opens a Store on a fresh prefix of the agent; it is closed when t ends.
func newStore(t testing.TB, a *consultest.Agent) *consulstore.Store {
	t.Helper()
	s, err := consulstore.New(consulstore.Config{
		Address:  a.Addr,
		Prefix:   fmt.Sprintf("drover-test/%d/", prefixes.Add(1)),
		WaitTime: 10 * time.Second,
		Timeout:  3 * time.Second,
	})
	if err != nil {
		t.Fatalf("consulstore.New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	a := consultest.Start(t)
	storetest.RunWithOptions(t, func(t *testing.T) store.Store { return newStore(t, a) },
		storetest.Options{MayCoalesce: true})
}

// TestIdenticalRewrite: Consul skips a write of the bytes already stored; the store must still
// give it a new revision and a watch event.
func TestIdenticalRewrite(t *testing.T) {
	s := newStore(t, consultest.Start(t))
	ctx := t.Context()
	r1, err := s.Create(ctx, "k", []byte("same"))
	if err != nil {
		t.Fatal(err)
	}
	ch, err := s.Watch(ctx, "", r1)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.Update(ctx, "k", []byte("same"), r1)
	if err != nil || r2 <= r1 {
		t.Fatalf("Update with the same bytes = %d, %v; want a revision after %d", r2, err, r1)
	}
	r3, err := s.Update(ctx, "k", []byte("same"), 0)
	if err != nil || r3 <= r2 {
		t.Fatalf("unconditional Update with the same bytes = %d, %v; want a revision after %d", r3, err, r2)
	}
	for _, want := range []int64{r2, r3} {
		select {
		case ev := <-ch:
			if ev.Revision != want || string(ev.Value) != "same" || string(ev.PrevValue) != "same" {
				t.Errorf("event %+v, want a put of the same bytes at %d", ev, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no event for the rewrite at %d", want)
		}
	}
}

// TestUnavailable: once Consul is gone every operation fails with store.ErrUnavailable, and
// within the configured request timeout.
func TestUnavailable(t *testing.T) {
	a := consultest.Start(t)
	s := newStore(t, a)
	ctx := t.Context()
	if _, err := s.Create(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	a.Kill()
	ops := map[string]func() error{
		"get":    func() error { _, err := s.Get(ctx, "k"); return err },
		"list":   func() error { _, _, err := s.List(ctx, ""); return err },
		"create": func() error { _, err := s.Create(ctx, "new", []byte("v")); return err },
		"update": func() error { _, err := s.Update(ctx, "k", []byte("v2"), 0); return err },
		"delete": func() error { _, err := s.Delete(ctx, "k", 0); return err },
	}
	for name, op := range ops {
		start := time.Now()
		err := op()
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s with Consul stopped: err = %v, want ErrUnavailable", name, err)
		}
		if d := time.Since(start); d > 4*time.Second {
			t.Errorf("%s took %v to fail, want within the 3 s timeout", name, d)
		}
	}
	if _, err := consulstore.New(consulstore.Config{Address: a.Addr, Timeout: time.Second}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("New with Consul stopped: err = %v, want ErrUnavailable", err)
	}
}

// TestRevisionReportsOutage: once the watch loop's blocking queries fail, Revision (what the
// API server's /readyz asks) fails with ErrUnavailable.
func TestRevisionReportsOutage(t *testing.T) {
	a := consultest.Start(t)
	s := newStore(t, a)
	ctx := t.Context()
	rev, err := s.Create(ctx, "k", []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := s.Revision(ctx); err != nil || r < rev {
		t.Fatalf("Revision = %d, %v; want >= %d and no error", r, err, rev)
	}
	a.Kill()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := s.Revision(ctx)
		if errors.Is(err, store.ErrUnavailable) {
			if r < rev {
				t.Errorf("Revision during the outage = %d, want the last seen (>= %d)", r, rev)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Revision 10 s after Consul died = %d, %v; want ErrUnavailable", r, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestHungConsul: a Consul that accepts connections but never answers yields ErrUnavailable
// after the request timeout instead of hanging the caller.
func TestHungConsul(t *testing.T) {
	a := consultest.Start(t)
	s, err := consulstore.New(consulstore.Config{Address: a.Addr, Prefix: "hung", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a.Pause()
	defer a.Resume()
	start := time.Now()
	_, err = s.Create(t.Context(), "k", []byte("v"))
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Create on a hung Consul: err = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 3*time.Second {
		t.Errorf("Create on a hung Consul failed after %v, want about the 1 s timeout", d)
	}
}

func TestValueTooLarge(t *testing.T) {
	a := consultest.Start(t)
	s := newStore(t, a)
	ctx := t.Context()
	big := make([]byte, consulstore.MaxValueSize)
	rev, err := s.Create(ctx, "big", big)
	if err != nil {
		t.Fatalf("Create of a value of exactly MaxValueSize: %v", err)
	}
	if kv, err := s.Get(ctx, "big"); err != nil || len(kv.Value) != len(big) {
		t.Fatalf("Get = %d bytes, %v; want %d", len(kv.Value), err, len(big))
	}
	over := make([]byte, consulstore.MaxValueSize+1)
	if _, err := s.Create(ctx, "bigger", over); !errors.Is(err, consulstore.ErrValueTooLarge) {
		t.Errorf("Create above the limit: err = %v, want ErrValueTooLarge", err)
	}
	if _, err := s.Update(ctx, "big", over, rev); !errors.Is(err, consulstore.ErrValueTooLarge) {
		t.Errorf("Update above the limit: err = %v, want ErrValueTooLarge", err)
	}
}

// TestAwkwardKeys: keys Consul's HTTP router would rewrite still round-trip, list and watch.
func TestAwkwardKeys(t *testing.T) {
	a := consultest.Start(t)
	s := newStore(t, a)
	ctx := t.Context()
	keys := []string{"/registry/pods/a", "a//b", "x/./y", "x/../y", "pct%2F/z", "dot/.", "dot/..", "trail/"}
	ch, err := s.Watch(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if _, err := s.Create(ctx, k, []byte(k)); err != nil {
			t.Fatalf("Create %q: %v", k, err)
		}
		if kv, err := s.Get(ctx, k); err != nil || string(kv.Value) != k {
			t.Errorf("Get %q = %q, %v", k, kv.Value, err)
		}
	}
	seen := map[string]bool{}
	for len(seen) < len(keys) {
		select {
		case ev := <-ch:
			seen[ev.Key] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("watch saw only %v", seen)
		}
	}
	for prefix, want := range map[string]string{"x/.": "x/../y x/./y", "dot/.": "dot/. dot/..", "a/": "a//b", "/": "/registry/pods/a", "pct%": "pct%2F/z"} {
		items, _, err := s.List(ctx, prefix)
		if err != nil {
			t.Fatalf("List %q: %v", prefix, err)
		}
		var got []string
		for _, kv := range items {
			got = append(got, kv.Key)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("List %q = %q, want %q", prefix, got, want)
		}
	}
}

// TestForeignKeysIgnored: keys under the prefix that no Store wrote do not break List or Watch.
func TestForeignKeysIgnored(t *testing.T) {
	a := consultest.Start(t)
	s, err := consulstore.New(consulstore.Config{Address: a.Addr, Prefix: "foreign"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	kv := a.Client(t).KV()
	if _, err := kv.Put(&api.KVPair{Key: "foreign/bad%zz", Value: []byte("x")}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(t.Context(), "good", []byte("v")); err != nil {
		t.Fatal(err)
	}
	items, _, err := s.List(t.Context(), "")
	if err != nil || len(items) != 1 || items[0].Key != "good" {
		t.Errorf("List = %+v, %v; want only good", items, err)
	}
}

// TestWatchDeletesAtOneIndex: deletes that share one Consul index (a DeleteTree from outside)
// still reach a watch as distinct events with increasing revisions.
func TestWatchDeletesAtOneIndex(t *testing.T) {
	a := consultest.Start(t)
	s := newStore(t, a)
	ctx := t.Context()
	ch, err := s.Watch(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := s.Create(ctx, fmt.Sprintf("k%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	var last int64
	await := func(typ store.EventType) {
		t.Helper()
		seen := map[string]bool{}
		for len(seen) < 3 {
			select {
			case ev := <-ch:
				if ev.Revision <= last {
					t.Errorf("event %s@%d not after %d", ev.Key, ev.Revision, last)
				}
				last = ev.Revision
				if ev.Type == typ {
					seen[ev.Key] = true
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("saw events of type %v for %v only", typ, seen)
			}
		}
	}
	await(store.Put) // else a create and its delete may coalesce into nothing
	// One Consul transaction deletes all three at the same index: three distinct events.
	if _, err := a.Client(t).KV().DeleteTree(s.Prefix(), nil); err != nil {
		t.Fatal(err)
	}
	await(store.Delete)
}
