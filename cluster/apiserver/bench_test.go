package apiserver_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/store"
	"github.com/drover-ci/drover/cluster/store/boltstore"
	"github.com/drover-ci/drover/cluster/store/consulstore"
	"github.com/drover-ci/drover/cluster/store/consulstore/consultest"
)

// Benchmarks of API round trips over HTTPS (client-go, as controllers use it). Each reports
// p50-ms and p99-ms of single-object operations; scripts/bench.sh prints them as a table.

func benchBolt(b *testing.B) store.Store {
	st, err := boltstore.Open(filepath.Join(b.TempDir(), "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

func benchConsul(b *testing.B) store.Store {
	agent := consultest.Start(b)
	st, err := consulstore.New(consulstore.Config{Address: agent.Addr, Prefix: "bench/"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

func benchClient(b *testing.B, st store.Store) kubernetes.Interface {
	srv := apiservertest.StartWith(b, st, b.TempDir())
	c, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func reportPercentiles(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	pct := func(p float64) float64 {
		return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// warmUp makes a few requests first so that connection setup (TLS handshake, HTTP/2) is not
// counted as a round trip.
func warmUp(b *testing.B, c kubernetes.Interface) {
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("warm-%d", i)}}
		if _, err := c.CoreV1().ConfigMaps("kube-public").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func benchCreate(b *testing.B, st store.Store) {
	c := benchClient(b, st)
	warmUp(b, c)
	ctx := context.Background()
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i)}, Data: map[string]string{"k": "v"}}
		start := time.Now()
		if _, err := c.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(start))
	}
	b.StopTimer()
	reportPercentiles(b, d)
}

func benchUpdate(b *testing.B, st store.Store) {
	c := benchClient(b, st)
	warmUp(b, c)
	ctx := context.Background()
	cm, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "counter"}}, metav1.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cm.Data = map[string]string{"n": fmt.Sprint(i)}
		start := time.Now()
		if cm, err = c.CoreV1().ConfigMaps("default").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(start))
	}
	b.StopTimer()
	reportPercentiles(b, d)
}

func BenchmarkCreateBolt(b *testing.B)   { benchCreate(b, benchBolt(b)) }
func BenchmarkUpdateBolt(b *testing.B)   { benchUpdate(b, benchBolt(b)) }
func BenchmarkCreateConsul(b *testing.B) { benchCreate(b, benchConsul(b)) }
func BenchmarkUpdateConsul(b *testing.B) { benchUpdate(b, benchConsul(b)) }

// BenchmarkRawConsulCAS is the floor for the Consul figures: one KV check-and-set round trip
// against the same kind of agent, without drover.
func BenchmarkRawConsulCAS(b *testing.B) {
	agent := consultest.Start(b)
	kv := agent.Client(b).KV()
	p := &api.KVPair{Key: "raw/counter", Value: []byte("0")}
	if _, err := kv.Put(p, nil); err != nil {
		b.Fatal(err)
	}
	got, _, err := kv.Get(p.Key, nil)
	if err != nil {
		b.Fatal(err)
	}
	idx := got.ModifyIndex
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		ok, _, err := kv.CAS(&api.KVPair{Key: p.Key, Value: []byte(fmt.Sprint(i)), ModifyIndex: idx}, nil)
		if err != nil || !ok {
			b.Fatalf("cas: %v %v", ok, err)
		}
		d = append(d, time.Since(start))
		meta, _, err := kv.Get(p.Key, nil)
		if err != nil {
			b.Fatal(err)
		}
		idx = meta.ModifyIndex
	}
	b.StopTimer()
	reportPercentiles(b, d)
}

// BenchmarkWatchFanout100Bolt measures how long one change takes to reach all of 100 watchers
// over HTTPS: the figure is the time until the last of them has the event.
func BenchmarkWatchFanout100Bolt(b *testing.B) {
	c := benchClient(b, benchBolt(b))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cm, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "fan"}}, metav1.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	const watchers = 100
	var mu sync.Mutex
	got := map[string]int{}
	cond := sync.NewCond(&mu)
	for i := 0; i < watchers; i++ {
		w, err := c.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{ResourceVersion: cm.ResourceVersion, FieldSelector: "metadata.name=fan"})
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			for ev := range w.ResultChan() {
				if o, ok := ev.Object.(*corev1.ConfigMap); ok {
					mu.Lock()
					got[o.ResourceVersion]++
					cond.Broadcast()
					mu.Unlock()
				}
			}
		}()
	}
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cm.Data = map[string]string{"n": fmt.Sprint(i)}
		start := time.Now()
		if cm, err = c.CoreV1().ConfigMaps("default").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			b.Fatal(err)
		}
		mu.Lock()
		for got[cm.ResourceVersion] < watchers {
			cond.Wait()
		}
		mu.Unlock()
		d = append(d, time.Since(start))
	}
	b.StopTimer()
	reportPercentiles(b, d)
}
