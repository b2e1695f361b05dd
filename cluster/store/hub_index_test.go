package store

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestHubPrefixIndex: watchers on nested, overlapping and unrelated prefixes each get exactly the
// events under their own prefix, also after other watchers of the same prefix or length leave.
func TestHubPrefixIndex(t *testing.T) {
	h := NewHub(0, 0)
	defer h.Close()
	prefixes := []string{"", "a", "a/", "a/b/", "a/b/c", "ab", "b/", "a/b/c/d"}
	keys := []string{"a/b/c", "a/x", "ab/1", "b/y", "a/b/c/d/e", "zz", "a"}
	chans := map[string]<-chan Event{}
	for _, p := range prefixes {
		ch, err := h.Watch(t.Context(), p, 0)
		if err != nil {
			t.Fatal(err)
		}
		chans[p] = ch
	}
	// A second watcher of "a/b/" and one of another prefix of that length come and go.
	ctx, cancel := context.WithCancel(t.Context())
	for _, p := range []string{"a/b/", "x/y/"} {
		if _, err := h.Watch(ctx, p, 0); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	for h.Watchers() != len(prefixes) {
		runtime.Gosched()
	}
	for i, k := range keys {
		h.Publish(put(int64(i+1), k))
	}
	h.Publish(put(int64(len(keys)+1), "end")) // under "" only
	for _, p := range prefixes {
		var want []string
		for _, k := range keys {
			if len(k) >= len(p) && k[:len(p)] == p {
				want = append(want, k)
			}
		}
		var got []string
		for range want {
			got = append(got, (<-chans[p]).Key)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("watch %q (-want +got):\n%s", p, diff)
		}
	}
	if ev := <-chans[""]; ev.Key != "end" {
		t.Errorf("watch \"\" got %s after the keys, want end", ev.Key)
	}
}

// TestHubIdleWatcherMemory: an idle watcher holds no preallocated event buffer (a 1024-event
// channel each was 402 MB at 2,000 idle node watches). Its goroutine and small structures stay
// well under 16 KiB.
func TestHubIdleWatcherMemory(t *testing.T) {
	const n = 2000
	h := NewHub(10, 0)
	defer h.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		if _, err := h.Watch(t.Context(), fmt.Sprintf("core/pods/ns%04d/", i), 0); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapInuse+after.StackInuse) - int64(before.HeapInuse+before.StackInuse)) / n
	t.Logf("%d bytes per idle watcher", per)
	if per > 16<<10 {
		t.Errorf("%d bytes per idle watcher, want ≤ 16 KiB", per)
	}
}

// BenchmarkHubPublishIdleWatchers5000: one event published with 5,000 watchers on other prefixes.
func BenchmarkHubPublishIdleWatchers5000(b *testing.B) {
	h := NewHub(1000, 0)
	defer h.Close()
	for i := range 5000 {
		if _, err := h.Watch(b.Context(), fmt.Sprintf("core/pods/ns%04d/", i), 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		h.Publish(put(int64(i+1), "core/configmaps/default/x"))
	}
}
