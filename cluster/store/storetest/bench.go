package storetest

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drover-ci/drover/cluster/store"
)

// Bench measures a store: Create, Update (check-and-set of one key), Get, and the delivery of
// one change to 100 watchers. Mutations and the fan-out report p50 and p99 latencies
// (p50-ms, p99-ms) besides ns/op.
func Bench(b *testing.B, newStore func(b *testing.B) store.Store) {
	b.Run("Create", func(b *testing.B) {
		s := open(b, newStore)
		timed(b, func(i int) error {
			_, err := s.Create(b.Context(), fmt.Sprintf("bench/create/%09d", i), payload)
			return err
		})
	})
	b.Run("Update", func(b *testing.B) {
		s := open(b, newStore)
		rev, err := s.Create(b.Context(), "bench/update", payload)
		if err != nil {
			b.Fatal(err)
		}
		timed(b, func(int) error {
			rev, err = s.Update(b.Context(), "bench/update", payload, rev)
			return err
		})
	})
	b.Run("Get", func(b *testing.B) {
		s := open(b, newStore)
		if _, err := s.Create(b.Context(), "bench/get", payload); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for range b.N {
			if _, err := s.Get(b.Context(), "bench/get"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Fanout100", func(b *testing.B) { benchFanout(b, open(b, newStore), 100) })
	b.Run("CreateParallel64", func(b *testing.B) { benchParallel(b, open(b, newStore), 64) })
	b.Run("CreateParallel64IdleWatchers5000", func(b *testing.B) {
		s := open(b, newStore)
		per := idleWatchers(b, s, 5000)
		benchParallel(b, s, 64)
		b.ReportMetric(per, "B/watcher")
	})
}

// idleWatchers starts n watches, each on a prefix of its own that no write touches (as
// namespaced watches of quiet namespaces), and returns the memory they take per watcher.
func idleWatchers(b *testing.B, s store.Store, n int) float64 {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		if _, err := s.Watch(ctx, fmt.Sprintf("idle/%05d/", i), 0); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	return (float64(after.HeapInuse+after.StackInuse) - float64(before.HeapInuse+before.StackInuse)) / float64(n)
}

// benchParallel measures the write ceiling: writers goroutines creating distinct keys as fast
// as the store takes them. It reports writes/s besides the per-write latency percentiles.
func benchParallel(b *testing.B, s store.Store, writers int) {
	var (
		mu  sync.Mutex
		lat = make([]time.Duration, 0, b.N)
		seq atomic.Int64
	)
	b.SetParallelism(max(1, writers/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			t0 := time.Now()
			if _, err := s.Create(b.Context(), fmt.Sprintf("bench/par/%09d", seq.Add(1)), payload); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "writes/s")
	report(b, lat)
}

// payload is about the size of a small pod object in JSON.
var payload = make([]byte, 1500)

func open(b *testing.B, newStore func(b *testing.B) store.Store) store.Store {
	s := newStore(b)
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// timed runs op b.N times and reports latency percentiles.
func timed(b *testing.B, op func(i int) error) {
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if err := op(i); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	report(b, lat)
}

func report(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// benchFanout measures from an Update until n watchers of its prefix have all received it.
func benchFanout(b *testing.B, s store.Store, n int) {
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	rev, err := s.Create(ctx, "bench/fan/x", payload)
	if err != nil {
		b.Fatal(err)
	}
	chans := make([]<-chan store.Event, n)
	for i := range chans {
		if chans[i], err = s.Watch(ctx, "bench/fan/", rev); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if rev, err = s.Update(ctx, "bench/fan/x", payload, 0); err != nil {
			b.Fatal(err)
		}
		for _, ch := range chans {
			if ev := <-ch; ev.Revision != rev {
				b.Fatalf("watcher got %+v, want revision %d", ev, rev)
			}
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	report(b, lat)
}
