package watchcache_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/drover-ci/drover/cluster/apiserver/watchcache"
	"github.com/drover-ci/drover/cluster/store"
	"github.com/drover-ci/drover/cluster/store/memstore"
)

const pods = "core/pods/"

func podResource() watchcache.Resource {
	return watchcache.Resource{Prefix: pods, Namespaced: true,
		Decode: func(value []byte, rev int64) (runtime.Object, error) {
			p := &corev1.Pod{}
			if err := json.Unmarshal(value, p); err != nil {
				return nil, err
			}
			p.ResourceVersion = strconv.FormatInt(rev, 10)
			return p, nil
		},
		Index: func(obj runtime.Object) string { return obj.(*corev1.Pod).Spec.NodeName }}
}

func podValue(t testing.TB, name, node, label string) []byte {
	t.Helper()
	b, err := json.Marshal(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"l": label}},
		Spec: corev1.PodSpec{NodeName: node}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func key(name string) string { return pods + "default/" + name }

// start runs a Cacher over st until the test ends and waits until it is ready.
func start(t *testing.T, st store.Store, cfg watchcache.Config) *watchcache.Cacher {
	t.Helper()
	cfg.Store = st
	if cfg.Resources == nil {
		cfg.Resources = []watchcache.Resource{podResource()}
	}
	c := watchcache.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
	defer rcancel()
	if err := c.WaitReady(rctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// got is an event reduced to what tests compare.
type got struct {
	Type EventTypeName
	Name string
	Rev  int64
	Node string
}

type EventTypeName string

func reduce(ev *watchcache.Event) got {
	names := map[watchcache.EventType]EventTypeName{watchcache.Put: "PUT", watchcache.Delete: "DELETE", watchcache.Bookmark: "BOOKMARK"}
	g := got{Type: names[ev.Type], Rev: ev.Revision}
	if ev.Object != nil {
		p := ev.Object.Object.(*corev1.Pod)
		g.Name, g.Node = p.Name, p.Spec.NodeName
		if p.ResourceVersion != strconv.FormatInt(ev.Revision, 10) {
			g.Name += " rv=" + p.ResourceVersion
		}
	}
	return g
}

func next(t *testing.T, w *watchcache.Watcher, n int) []got {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []got
	for len(out) < n {
		ev, ok := w.Next(ctx)
		if !ok {
			t.Fatalf("watcher ended after %d of %d events: %v", len(out), n, out)
		}
		if ev.Type != watchcache.Bookmark {
			out = append(out, reduce(ev))
		}
	}
	return out
}

// check returns a function that fails the test on a store error and returns the revision.
func check(t *testing.T) func(int64, error) int64 {
	return func(rev int64, err error) int64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return rev
	}
}

// writes creates, updates and deletes pods and returns the events a watcher of everything
// must see, in order.
func writes(t *testing.T, st store.Store, n int) []got {
	ctx := context.Background()
	var want []got
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("p%d", i%7)
		kv, err := st.Get(ctx, key(name))
		switch {
		case errors.Is(err, store.ErrNotFound):
			rev := check(t)(st.Create(ctx, key(name), podValue(t, name, "n1", "a")))
			want = append(want, got{"PUT", name, rev, "n1"})
		case i%3 == 0:
			rev := check(t)(st.Delete(ctx, key(name), kv.Revision))
			want = append(want, got{"DELETE", name, rev, "n1"})
		default:
			rev := check(t)(st.Update(ctx, key(name), podValue(t, name, "n1", fmt.Sprint(i)), kv.Revision))
			want = append(want, got{"PUT", name, rev, "n1"})
		}
	}
	return want
}

func TestEventsInRevisionOrder(t *testing.T) {
	st := memstore.New()
	// The test reads after writing everything: a buffer for all of it.
	c := start(t, st, watchcache.Config{WatcherBuffer: 1024})
	w, initial, _, err := c.Watch(watchcache.WatchOptions{Prefix: pods})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if len(initial) != 0 {
		t.Fatalf("initial entries %d, want 0", len(initial))
	}
	want := writes(t, st, 300)
	if diff := cmp.Diff(want, next(t, w, len(want))); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestResumeFromRevision(t *testing.T) {
	st := memstore.New()
	c := start(t, st, watchcache.Config{})
	want := writes(t, st, 40)
	from := want[9].Rev
	if err := c.WaitFresh(context.Background(), want[len(want)-1].Rev); err != nil {
		t.Fatal(err)
	}
	w, initial, _, err := c.Watch(watchcache.WatchOptions{Prefix: pods, From: from})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if initial != nil {
		t.Errorf("a resumed watch got %d initial entries", len(initial))
	}
	more := writes(t, st, 5)
	want = append(want[10:], more...)
	if diff := cmp.Diff(want, next(t, w, len(want))); diff != "" {
		t.Errorf("events after revision %d (-want +got):\n%s", from, diff)
	}
}

func TestTooOldRevision(t *testing.T) {
	st := memstore.New()
	c := start(t, st, watchcache.Config{History: 4})
	want := writes(t, st, 20)
	if err := c.WaitFresh(context.Background(), want[len(want)-1].Rev); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.Watch(watchcache.WatchOptions{Prefix: pods, From: want[2].Rev}); !errors.Is(err, watchcache.ErrTooOld) {
		t.Errorf("watch from revision %d with 4 events kept: %v, want ErrTooOld", want[2].Rev, err)
	}
	if _, _, err := c.List(pods, pods, "", want[2].Rev); !errors.Is(err, watchcache.ErrTooOld) {
		t.Errorf("list at revision %d with 4 events kept: %v, want ErrTooOld", want[2].Rev, err)
	}
	// The newest four are still there.
	w, _, _, err := c.Watch(watchcache.WatchOptions{Prefix: pods, From: want[len(want)-5].Rev})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if diff := cmp.Diff(want[len(want)-4:], next(t, w, 4)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestNoLostDeletes(t *testing.T) {
	st := memstore.New()
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		check(t)(st.Create(ctx, key(fmt.Sprint("d", i)), podValue(t, fmt.Sprint("d", i), "n1", "a")))
	}
	c := start(t, st, watchcache.Config{})
	w, initial, _, err := c.Watch(watchcache.WatchOptions{Prefix: pods, Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if len(initial) != 100 {
		t.Fatalf("initial entries %d, want 100", len(initial))
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < 100; i += 4 {
				if _, err := st.Delete(ctx, key(fmt.Sprint("d", i)), 0); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	deleted := map[string]bool{}
	var last int64
	for _, g := range next(t, w, 100) {
		if g.Type != "DELETE" || g.Rev <= last {
			t.Errorf("event %+v after revision %d, want DELETEs in revision order", g, last)
		}
		last = g.Rev
		deleted[g.Name] = true
	}
	if len(deleted) != 100 {
		t.Errorf("%d pods seen deleted, want 100", len(deleted))
	}
	entries, _, err := c.List(pods, pods, "", 0)
	if err != nil || len(entries) != 0 {
		t.Errorf("list after deleting everything: %d entries, %v", len(entries), err)
	}
}

// An indexed watcher (a node agent's spec.nodeName=n1) is offered only events of pods that
// are or were on n1: a pod bound to n1 arrives (its previous state had no node), another
// node's pods never do.
func TestIndexedWatcherGetsOnlyItsNode(t *testing.T) {
	st := memstore.New()
	ctx := context.Background()
	c := start(t, st, watchcache.Config{WatcherBuffer: 8})
	w, _, _, err := c.Watch(watchcache.WatchOptions{Prefix: pods, Indexed: true, Index: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// Far more events for other nodes than the watcher's buffer: it would be closed if they
	// were offered to it.
	for i := 0; i < 200; i++ {
		check(t)(st.Create(ctx, key(fmt.Sprint("other", i)), podValue(t, fmt.Sprint("other", i), fmt.Sprint("n", 2+i%5), "a")))
	}
	r1 := check(t)(st.Create(ctx, key("mine"), podValue(t, "mine", "", "a")))
	r2 := check(t)(st.Update(ctx, key("mine"), podValue(t, "mine", "n1", "a"), r1))
	r3 := check(t)(st.Update(ctx, key("mine"), podValue(t, "mine", "n9", "a"), r2))
	r4 := check(t)(st.Create(ctx, key("mine2"), podValue(t, "mine2", "n1", "a")))
	r5 := check(t)(st.Delete(ctx, key("mine2"), r4))
	want := []got{{"PUT", "mine", r2, "n1"}, {"PUT", "mine", r3, "n9"}, {"PUT", "mine2", r4, "n1"}, {"DELETE", "mine2", r5, "n1"}}
	if diff := cmp.Diff(want, next(t, w, len(want))); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// A watcher that reads nothing does not hold up the writers or the cache: once its buffer is
// full it is closed, and its channel ends after what it holds.
func TestSlowWatcherClosedWithoutBlockingWriters(t *testing.T) {
	st := memstore.New()
	ctx := context.Background()
	c := start(t, st, watchcache.Config{WatcherBuffer: 4})
	slow, _, _, err := c.Watch(watchcache.WatchOptions{Prefix: pods})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Stop()
	var last int64
	for i := 0; i < 500; i++ {
		last = check(t)(st.Create(ctx, key(fmt.Sprint("s", i)), podValue(t, fmt.Sprint("s", i), "n1", "a")))
	}
	// Every write is applied although the slow watcher read nothing.
	if err := c.WaitFresh(ctx, last); err != nil {
		t.Fatalf("cache did not reach revision %d: %v", last, err)
	}
	n := 0
	var seen int64
	for {
		ev, ok := slow.Next(ctx)
		if !ok {
			break
		}
		n++
		seen = ev.Revision
	}
	if n > 4 {
		t.Errorf("the slow watcher got %d events, more than its buffer of 4", n)
	}
	// Its client resumes from the last revision it saw and gets the rest from the ring.
	resumed, _, _, err := c.Watch(watchcache.WatchOptions{Prefix: pods, From: seen})
	if err != nil {
		t.Fatal(err)
	}
	defer resumed.Stop()
	rest := next(t, resumed, 500-n)
	if rest[len(rest)-1].Rev != last {
		t.Errorf("resumed watch ended at revision %d, want %d", rest[len(rest)-1].Rev, last)
	}
}

func TestListAtOlderRevision(t *testing.T) {
	st := memstore.New()
	ctx := context.Background()
	c := start(t, st, watchcache.Config{})
	ra := check(t)(st.Create(ctx, key("a"), podValue(t, "a", "n1", "1")))
	rb := check(t)(st.Create(ctx, key("b"), podValue(t, "b", "n1", "1")))
	rc := check(t)(st.Create(ctx, key("c"), podValue(t, "c", "n1", "1")))
	check(t)(st.Update(ctx, key("b"), podValue(t, "b", "n1", "2"), rb))
	check(t)(st.Delete(ctx, key("a"), ra))
	last := check(t)(st.Create(ctx, key("d"), podValue(t, "d", "n1", "1")))
	if err := c.WaitFresh(ctx, last); err != nil {
		t.Fatal(err)
	}
	list := func(rev int64, start string) []string {
		entries, at, err := c.List(pods, pods+"default/", start, rev)
		if err != nil {
			t.Fatal(err)
		}
		if rev != 0 && at != rev {
			t.Errorf("list at %d answered at %d", rev, at)
		}
		var out []string
		for _, e := range entries {
			p := e.Object.(*corev1.Pod)
			out = append(out, p.Name+"="+p.Labels["l"])
		}
		return out
	}
	if diff := cmp.Diff([]string{"a=1", "b=1", "c=1"}, list(rc, "")); diff != "" {
		t.Errorf("list at %d (-want +got):\n%s", rc, diff)
	}
	if diff := cmp.Diff([]string{"b=1", "c=1"}, list(rc, key("a\x00"))); diff != "" {
		t.Errorf("list at %d from after a (-want +got):\n%s", rc, diff)
	}
	if diff := cmp.Diff([]string{"b=2", "c=1", "d=1"}, list(0, "")); diff != "" {
		t.Errorf("list now (-want +got):\n%s", diff)
	}
}

func TestBookmarks(t *testing.T) {
	st := memstore.New()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := start(t, st, watchcache.Config{BookmarkInterval: 20 * time.Millisecond})
	w, _, _, err := c.Watch(watchcache.WatchOptions{Prefix: pods, Indexed: true, Index: "n1", Bookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// Another node's pod moves the revision on; the watcher learns of it by a bookmark.
	rev := check(t)(st.Create(ctx, key("x"), podValue(t, "x", "n2", "a")))
	for {
		ev, ok := w.Next(ctx)
		if !ok {
			t.Fatal("watcher ended before a bookmark at the newest revision")
		}
		if ev.Type != watchcache.Bookmark {
			t.Fatalf("event %+v, want only bookmarks", reduce(ev))
		}
		if ev.Revision >= rev {
			return
		}
	}
}

// A value that does not decode is skipped (and logged), not a cache that never starts.
func TestUndecodableValueSkipped(t *testing.T) {
	st := memstore.New()
	ctx := context.Background()
	check(t)(st.Create(ctx, key("bad"), []byte("not json")))
	check(t)(st.Create(ctx, key("good"), podValue(t, "good", "n1", "a")))
	c := start(t, st, watchcache.Config{})
	w, initial, _, err := c.Watch(watchcache.WatchOptions{Prefix: pods})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if len(initial) != 1 || initial[0].Key != key("good") {
		t.Fatalf("initial entries %v, want only the good pod", initial)
	}
	check(t)(st.Create(ctx, key("bad2"), []byte("{")))
	rev := check(t)(st.Create(ctx, key("good2"), podValue(t, "good2", "n1", "a")))
	if diff := cmp.Diff([]got{{"PUT", "good2", rev, "n1"}}, next(t, w, 1)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// fallBehindStore is a store whose first watch ends like a Hub watcher that fell behind
// (an Error wrapping store.ErrCompacted) after `after` events; it counts the lists.
type fallBehindStore struct {
	store.Store
	after   int
	mu      sync.Mutex
	watches int
	lists   int
}

func (s *fallBehindStore) List(ctx context.Context, prefix string) ([]store.KV, int64, error) {
	s.mu.Lock()
	s.lists++
	s.mu.Unlock()
	return s.Store.List(ctx, prefix)
}

func (s *fallBehindStore) Watch(ctx context.Context, prefix string, from int64) (<-chan store.Event, error) {
	s.mu.Lock()
	s.watches++
	first := s.watches == 1
	s.mu.Unlock()
	if !first {
		return s.Store.Watch(ctx, prefix, from)
	}
	wctx, cancel := context.WithCancel(ctx)
	in, err := s.Store.Watch(wctx, prefix, from)
	if err != nil {
		cancel()
		return nil, err
	}
	out := make(chan store.Event)
	go func() {
		defer close(out)
		defer cancel()
		for i := 0; i < s.after; i++ {
			ev, ok := <-in
			if !ok {
				return
			}
			out <- ev
		}
		out <- store.Event{Type: store.Error, Err: fmt.Errorf("watch \"\" fell more than 1024 events behind: %w", store.ErrCompacted)}
	}()
	return out, nil
}

// A store watch that falls behind is resumed from the cache's revision while the store still
// holds the events: the cache lists nothing again, and its watchers go on, every event once
// and in order.
func TestStoreWatchFallingBehindIsResumed(t *testing.T) {
	st := &fallBehindStore{Store: memstore.New(), after: 10}
	c := start(t, st, watchcache.Config{WatcherBuffer: 1024})
	w, _, _, err := c.Watch(watchcache.WatchOptions{Prefix: pods})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	want := writes(t, st, 60)
	if diff := cmp.Diff(want, next(t, w, len(want))); diff != "" {
		t.Errorf("events across the resume (-want +got):\n%s", diff)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.watches != 2 || st.lists != 1 {
		t.Errorf("%d store watches and %d lists, want 2 (the resume) and 1 (no re-initialisation)", st.watches, st.lists)
	}
	if c.Reinitializing() {
		t.Error("the cache is re-initialising")
	}
}
