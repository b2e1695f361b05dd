package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-ci/drover/internal/uptest"
)

func put(rev int64, key string) Event {
	return Event{Type: Put, Key: key, Value: []byte(fmt.Sprint(rev)), Revision: rev, Created: true}
}

// collect reads events until one has revision >= until, the channel closes, or 5 s pass.
func collect(t *testing.T, ch <-chan Event, until int64) []int64 {
	t.Helper()
	var revs []int64
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return revs
			}
			revs = append(revs, ev.Revision)
			if ev.Revision >= until {
				return revs
			}
		case <-timeout:
			t.Fatalf("timed out after revisions %v", revs)
		}
	}
}

func seq(from, to int64) []int64 {
	var out []int64
	for r := from; r <= to; r++ {
		out = append(out, r)
	}
	return out
}

func TestHubReplayThenLive(t *testing.T) {
	h := NewHub(100, 0)
	for r := int64(1); r <= 10; r++ {
		h.Publish(put(r, "a/x"))
	}
	ch, err := h.Watch(t.Context(), "a/", 4)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for r := int64(11); r <= 20; r++ {
			h.Publish(put(r, "a/x"))
		}
	}()
	if diff := cmp.Diff(seq(5, 20), collect(t, ch, 20)); diff != "" {
		t.Errorf("revisions (-want +got):\n%s", diff)
	}
}

// Watches started while a publisher is running see every later event exactly once, in order.
// A watcher may fall behind on this busy machine: it then ends with an Error event, but what it
// did get must still be gapless.
func TestHubNoGapsUnderConcurrentPublish(t *testing.T) {
	const last = 3000
	h := NewHub(last, 0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for r := int64(1); r <= last; r++ {
			h.Publish(put(r, "k"))
			if r%64 == 0 {
				time.Sleep(100 * time.Microsecond)
			}
		}
	}()
	var wg sync.WaitGroup
	complete := 0
	var mu sync.Mutex
	for i := 0; i < 20; i++ {
		from := h.Revision()
		if from == last {
			break
		}
		ch, err := h.Watch(t.Context(), "", from)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := from + 1
			for ev := range ch {
				if ev.Type == Error {
					if !errors.Is(ev.Err, ErrCompacted) {
						t.Errorf("watch from %d: error %v", from, ev.Err)
					}
					return
				}
				if ev.Revision != next {
					t.Errorf("watch from %d: got revision %d, want %d", from, ev.Revision, next)
					return
				}
				if next++; next > last {
					mu.Lock()
					complete++
					mu.Unlock()
					return
				}
			}
		}()
		time.Sleep(200 * time.Microsecond)
	}
	<-done
	wg.Wait()
	if complete == 0 {
		t.Error("no watcher saw the whole sequence")
	}
}

func TestHubPrefix(t *testing.T) {
	h := NewHub(10, 0)
	ch, err := h.Watch(t.Context(), "pods/default/", 0)
	if err != nil {
		t.Fatal(err)
	}
	h.Publish(put(1, "pods/default2/x"), put(2, "pods/default/a"), put(3, "pods/other/a"), put(4, "pods/default/b"))
	h.Publish(put(5, "pods/default/c"))
	if diff := cmp.Diff([]int64{2, 4, 5}, collect(t, ch, 5)); diff != "" {
		t.Errorf("revisions (-want +got):\n%s", diff)
	}
}

func TestHubCompacted(t *testing.T) {
	h := NewHub(3, 10)
	if _, err := h.Watch(t.Context(), "", 9); !errors.Is(err, ErrCompacted) {
		t.Errorf("watch before start revision: err = %v, want ErrCompacted", err)
	}
	if _, err := h.Watch(t.Context(), "", 10); err != nil {
		t.Errorf("watch from start revision: %v", err)
	}
	for r := int64(11); r <= 15; r++ {
		h.Publish(put(r, "k"))
	}
	// retained: 13, 14, 15 → resumable from 12.
	if _, err := h.Watch(t.Context(), "", 11); !errors.Is(err, ErrCompacted) {
		t.Errorf("watch from 11: err = %v, want ErrCompacted", err)
	}
	ch, err := h.Watch(t.Context(), "", 12)
	if err != nil {
		t.Fatalf("watch from 12: %v", err)
	}
	if diff := cmp.Diff(seq(13, 15), collect(t, ch, 15)); diff != "" {
		t.Errorf("revisions (-want +got):\n%s", diff)
	}
}

func TestHubNoHistory(t *testing.T) {
	h := NewHub(0, 5)
	h.Publish(put(6, "k"))
	if _, err := h.Watch(t.Context(), "", 5); !errors.Is(err, ErrCompacted) {
		t.Errorf("err = %v, want ErrCompacted", err)
	}
	ch, err := h.Watch(t.Context(), "", 6)
	if err != nil {
		t.Fatal(err)
	}
	h.Publish(put(7, "k"))
	if diff := cmp.Diff([]int64{7}, collect(t, ch, 7)); diff != "" {
		t.Errorf("revisions (-want +got):\n%s", diff)
	}
}

func TestHubFutureRevisionAndBatches(t *testing.T) {
	h := NewHub(10, 0)
	ch, err := h.Watch(t.Context(), "", 3)
	if err != nil {
		t.Fatal(err)
	}
	h.Publish(put(1, "k"), put(2, "k"), put(3, "k"), put(4, "k"))
	h.Publish(put(2, "k"), put(5, "k"), put(5, "j")) // 2 is stale; 5 is a batch of two
	h.Publish(put(6, "k"))
	if diff := cmp.Diff([]int64{4, 5, 5, 6}, collect(t, ch, 6)); diff != "" {
		t.Errorf("revisions (-want +got):\n%s", diff)
	}
	if got := h.Revision(); got != 6 {
		t.Errorf("Revision() = %d, want 6", got)
	}
	// A watch resuming from 4 replays both events of revision 5.
	ch, err = h.Watch(t.Context(), "", 4)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{5, 5, 6}, collect(t, ch, 6)); diff != "" {
		t.Errorf("replayed revisions (-want +got):\n%s", diff)
	}
}

func TestHubSlowWatcherDoesNotBlock(t *testing.T) {
	h := NewHub(10, 0)
	slow, err := h.Watch(t.Context(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	const n = 3 * WatchBuffer
	published := make(chan struct{})
	go func() {
		defer close(published)
		for r := int64(1); r <= n; r++ {
			h.Publish(put(r, "k"))
		}
	}()
	select {
	case <-published:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on a watcher that does not read")
	}
	var last Event
	count := 0
	for ev := range slow {
		if ev.Type != Error && ev.Revision != int64(count+1) {
			t.Fatalf("event %d has revision %d", count, ev.Revision)
		}
		last = ev
		count++
	}
	if last.Type != Error || !errors.Is(last.Err, ErrCompacted) {
		t.Errorf("last event of slow watcher = %+v, want Error ErrCompacted", last)
	}
	// Its buffer, perhaps one event the forwarder held, then the error.
	if count < WatchBuffer+1 || count > WatchBuffer+2 {
		t.Errorf("slow watcher got %d events, want %d or %d", count, WatchBuffer+1, WatchBuffer+2)
	}
	if got := h.Watchers(); got != 0 {
		t.Errorf("Watchers() = %d after the slow watcher was dropped", got)
	}
}

func TestHubCancelAndClose(t *testing.T) {
	h := NewHub(10, 0)
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := h.Watch(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	other, err := h.Watch(t.Context(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if got := collect(t, ch, 1<<62); len(got) != 0 {
		t.Errorf("cancelled watch got %v", got)
	}
	uptest.Eventually(t, 5*time.Second, "one watcher", func() bool { return h.Watchers() == 1 })
	h.Close()
	if got := collect(t, other, 1<<62); len(got) != 0 {
		t.Errorf("closed watch got %v", got)
	}
	if _, err := h.Watch(t.Context(), "", 0); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Watch after Close: err = %v, want ErrUnavailable", err)
	}
	h.Publish(put(1, "k")) // must not panic on closed channels
	h.Close()
}

// fanout publishes one event to n watchers and returns how long until all received it.
func fanout(tb testing.TB, h *Hub, chans []<-chan Event, rev int64) time.Duration {
	start := time.Now()
	h.Publish(put(rev, "pods/default/x"))
	for _, ch := range chans {
		if ev := <-ch; ev.Revision != rev {
			tb.Fatalf("got revision %d, want %d", ev.Revision, rev)
		}
	}
	return time.Since(start)
}

func watchers(tb testing.TB, ctx context.Context, h *Hub, n int) []<-chan Event {
	chans := make([]<-chan Event, n)
	for i := range chans {
		ch, err := h.Watch(ctx, "pods/", 0)
		if err != nil {
			tb.Fatal(err)
		}
		chans[i] = ch
	}
	return chans
}

func TestHubFanout100Latency(t *testing.T) {
	h := NewHub(1000, 0)
	defer h.Close()
	chans := watchers(t, t.Context(), h, 100)
	var lat []time.Duration
	for r := int64(1); r <= 21; r++ {
		lat = append(lat, fanout(t, h, chans, r))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if median := lat[len(lat)/2]; median > 50*time.Millisecond {
		t.Errorf("median fan-out to 100 watchers = %v, want ≤ 50ms", median)
	}
}

func BenchmarkHubFanout100(b *testing.B) {
	h := NewHub(1000, 0)
	defer h.Close()
	chans := watchers(b, b.Context(), h, 100)
	var worst time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		worst = max(worst, fanout(b, h, chans, int64(i+1)))
	}
	b.ReportMetric(float64(worst.Microseconds()), "max-µs")
}
