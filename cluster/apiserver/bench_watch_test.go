package apiserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/store/memstore"
)

// Benchmarks of the watch cache's targets (issue 20): pod writes per second while many node
// agents watch their own node's pods (spec.nodeName=...) on other nodes, and the memory of
// 32 concurrent unpaged lists of 20,000 pods. They use only the public API, so the same file
// runs against the code before the watch cache.

func benchPod(name, node string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "bench"}},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"sleep", "3600"}}}}}
}

// startWatchers opens n raw watches of pods on nodes idle-0..idle-(n-1) from rv and drains
// them; it returns once every watch has its response headers.
func startWatchers(b *testing.B, ctx context.Context, cfg *rest.Config, n int, rv string) {
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		b.Fatal(err)
	}
	hc := &http.Client{Transport: rt}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	var failed atomic.Value
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			url := fmt.Sprintf("%s/api/v1/pods?watch=true&resourceVersion=%s&fieldSelector=spec.nodeName%%3Didle-%d", cfg.Host, rv, i)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			resp, err := hc.Do(req)
			<-sem
			if err != nil {
				failed.Store(err)
				return
			}
			if resp.StatusCode != http.StatusOK {
				failed.Store(fmt.Errorf("watch %d: %s", i, resp.Status))
				resp.Body.Close()
				return
			}
			go func() {
				defer resp.Body.Close()
				_, _ = io.Copy(io.Discard, resp.Body)
			}()
		}()
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		b.Fatal(err)
	}
}

// benchWritesWithWatchers creates pods on a busy node from 8 writers while `watchers` node
// agents of other nodes watch; it reports writes/s.
func benchWritesWithWatchers(b *testing.B, watchers int) {
	srv := apiservertest.StartWith(b, benchBolt(b), b.TempDir())
	c, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	list, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	startWatchers(b, ctx, srv.Config, watchers, list.ResourceVersion)
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				if _, err := c.CoreV1().Pods("default").Create(ctx, benchPod(fmt.Sprintf("p-%d", i), "busy"), metav1.CreateOptions{}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "writes/s")
}

func BenchmarkWritesWith0PodWatchers(b *testing.B)    { benchWritesWithWatchers(b, 0) }
func BenchmarkWritesWith500PodWatchers(b *testing.B)  { benchWritesWithWatchers(b, 500) }
func BenchmarkWritesWith5000PodWatchers(b *testing.B) { benchWritesWithWatchers(b, 5000) }

// benchConcurrentLists runs rounds of 32 concurrent unpaged lists of 20,000 pods (raw HTTP,
// the bodies discarded so that only the server's memory counts) and reports the heap growth
// at the peak of a round, the bytes allocated per list and the seconds per round.
func benchConcurrentLists(b *testing.B, rv string) {
	const lists = 32
	host, get := benchPodServer(b, 20000, 500)
	url := host + "/api/v1/pods?resourceVersion=" + rv
	if err := get(url); err != nil { // warm: connections, and the cache where there is one
		b.Fatal(err)
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base, allocBase := ms.HeapInuse, ms.TotalAlloc
	var peak uint64
	b.ResetTimer()
	start := time.Now()
	for n := 0; n < b.N; n++ {
		done := make(chan struct{})
		go func() {
			var s runtime.MemStats
			for {
				select {
				case <-done:
					return
				case <-time.After(20 * time.Millisecond):
				}
				runtime.ReadMemStats(&s)
				if s.HeapInuse > peak {
					peak = s.HeapInuse
				}
			}
		}()
		var wg sync.WaitGroup
		for i := 0; i < lists; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := get(url); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
		close(done)
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(time.Since(start).Seconds()/float64(b.N), "s/round")
	if peak > base {
		b.ReportMetric(float64(peak-base)/(1<<20), "peak-extra-MB")
	}
	b.ReportMetric(float64(ms.TotalAlloc-allocBase)/float64(b.N*lists)/(1<<20), "alloc-MB/list")
}

// benchPodServer stores objects pods spread over nodes node-N in a memstore, starts an API
// server over it and returns its URL and a GET that reads a whole answer (an error unless 200).
func benchPodServer(b *testing.B, objects, nodes int) (string, func(url string) error) {
	st := memstore.New()
	ctx := context.Background()
	for i := 0; i < objects; i++ {
		p := benchPod(fmt.Sprintf("p-%05d", i), fmt.Sprintf("node-%d", i%nodes))
		p.APIVersion, p.Kind = "v1", "Pod"
		p.UID = "00000000-0000-0000-0000-000000000000"
		v, err := json.Marshal(p)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.Create(ctx, "core/pods/default/"+p.Name, v); err != nil {
			b.Fatal(err)
		}
	}
	srv := apiservertest.StartWith(b, st, b.TempDir())
	rt, err := rest.TransportFor(srv.Config)
	if err != nil {
		b.Fatal(err)
	}
	hc := &http.Client{Transport: rt}
	return srv.Config.Host, func(url string) error {
		resp, err := hc.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("list: %s", resp.Status)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
}

func BenchmarkConcurrentListsConsistent(b *testing.B) { benchConcurrentLists(b, "") }
func BenchmarkConcurrentListsRV0(b *testing.B)        { benchConcurrentLists(b, "0") }

// BenchmarkNodeAgentRelists: 500 node agents re-listing their pods (fieldSelector
// spec.nodeName=X, resourceVersion=0, as a reflector after its watch was closed) among 20,000
// cached pods: one round is the 500 lists, 8 at a time.
func BenchmarkNodeAgentRelists(b *testing.B) {
	const nodes = 500
	host, list := benchPodServer(b, 20000, nodes)
	get := func(node int) error {
		return list(fmt.Sprintf("%s/api/v1/pods?resourceVersion=0&fieldSelector=spec.nodeName%%3Dnode-%d", host, node))
	}
	if err := get(0); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		next := make(chan int)
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for node := range next {
					if err := get(node); err != nil {
						b.Error(err)
					}
				}
			}()
		}
		for node := 0; node < nodes; node++ {
			next <- node
		}
		close(next)
		wg.Wait()
	}
}
