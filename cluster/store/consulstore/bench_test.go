package consulstore_test

import (
	"sort"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/drover-ci/drover/cluster/store"
	"github.com/drover-ci/drover/cluster/store/consulstore/consultest"
	"github.com/drover-ci/drover/cluster/store/storetest"
)

// benchValue is about the size of a small pod object in JSON.
var benchValue = make([]byte, 1500)

// BenchmarkConsulRawCAS times consul/api's KV CAS put alone (the new ModifyIndex, which a plain
// put does not report, is read outside the timed part): the floor for any Consul-backed write.
func BenchmarkConsulRawCAS(b *testing.B) {
	kv := consultest.Start(b).Client(b).KV()
	const key = "bench/raw"
	if _, err := kv.Put(&api.KVPair{Key: key, Value: benchValue}, nil); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		p, _, err := kv.Get(key, nil)
		if err != nil || p == nil {
			b.Fatalf("get: %v", err)
		}
		b.StartTimer()
		start := time.Now()
		ok, _, err := kv.CAS(&api.KVPair{Key: key, Value: benchValue, ModifyIndex: p.ModifyIndex}, nil)
		lat = append(lat, time.Since(start))
		if err != nil || !ok {
			b.Fatalf("cas: ok=%v err=%v", ok, err)
		}
	}
	b.StopTimer()
	reportLatency(b, lat)
}

// BenchmarkConsulStoreUpdate times Store.Update with the expected revision: one /v1/txn
// check-and-set round trip.
func BenchmarkConsulStoreUpdate(b *testing.B) {
	s := newStore(b, consultest.Start(b))
	rev, err := s.Create(b.Context(), "bench/update", benchValue)
	if err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		rev, err = s.Update(b.Context(), "bench/update", benchValue, rev)
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportLatency(b, lat)
}

// BenchmarkConsulStore runs the shared store benchmarks (create, update, get, fan-out of one
// change to 100 watchers).
func BenchmarkConsulStore(b *testing.B) {
	a := consultest.Start(b)
	storetest.Bench(b, func(b *testing.B) store.Store { return newStore(b, a) })
}

func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	at := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}
