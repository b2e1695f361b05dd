package hollow

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/drover-ci/drover/cluster/container"
)

// podLabels are labels like the node agent's (pod uid, namespace, name, container, attempt, node).
func podLabels(i int) map[string]string {
	return map[string]string{
		"drover.io/pod-uid":       fmt.Sprintf("6f1c2a8e-0000-4000-8000-%012d", i/2),
		"drover.io/pod-namespace": "default",
		"drover.io/pod-name":      fmt.Sprintf("agent-%d", i/2),
		"drover.io/container":     []string{"POD", "jnlp"}[i%2],
		"drover.io/attempt":       "0",
		"drover.io/node":          "hollow-node-17",
	}
}

// fill creates and starts n containers (pairs of an infra container and one joining it) on a
// runtime with the real clock and a run-for timer on every app container.
func fill(tb testing.TB, r *Runtime, n int) {
	ctx := context.Background()
	var infra string
	for i := 0; i < n; i++ {
		spec := container.Spec{Name: fmt.Sprintf("k8s_%d", i), Image: "jenkins/inbound-agent:3071.v7e9b_0dc08466-1", Labels: podLabels(i),
			NetworkMode: "bridge", Env: []string{"JENKINS_URL=http://jenkins:8080", "JENKINS_AGENT_NAME=agent"}}
		if i%2 == 1 {
			spec.NetworkMode = "container:" + infra
			spec.Env = append(spec.Env, "HOLLOW_RUN_FOR=1h")
		}
		id, err := r.Create(ctx, spec)
		if err != nil {
			tb.Fatal(err)
		}
		if err := r.Start(ctx, id); err != nil {
			tb.Fatal(err)
		}
		if i%2 == 0 {
			infra = id
		}
	}
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkMemoryPer1000Containers reports the heap a hollow runtime holds for 1,000 running
// containers (500 pods of two) with labels, addresses and pending exit timers.
func BenchmarkMemoryPer1000Containers(b *testing.B) {
	var per float64
	for i := 0; i < b.N; i++ {
		before := heap()
		r := New(Options{})
		fill(b, r, 1000)
		per = float64(heap()-before) / 1000
		runtime.KeepAlive(r)
	}
	b.ReportMetric(per, "B/container")
	b.ReportMetric(per*1000/(1<<20), "MiB/1000")
}

// TestMemoryAndGoroutines bounds what a container costs: no goroutine (timers only) and
// well under the 5 MB a hollow node may use for its ~110 pods.
func TestMemoryAndGoroutines(t *testing.T) {
	goroutines := runtime.NumGoroutine()
	before := heap()
	r := New(Options{})
	fill(t, r, 1000)
	per := float64(heap()-before) / 1000
	if extra := runtime.NumGoroutine() - goroutines; extra > 5 {
		t.Errorf("1000 running containers added %d goroutines", extra)
	}
	if per > 4096 {
		t.Errorf("%.0f bytes per container, want at most 4096", per)
	}
	t.Logf("%.0f bytes per container", per)
	runtime.KeepAlive(r)
}

// TestFakeClockNoDeadlock runs timers under a fake clock (whose callbacks run with the
// clock's lock held) while other goroutines start, stop and inspect containers.
func TestFakeClockNoDeadlock(t *testing.T) {
	r, fc := newFake(t, Options{})
	ctx := context.Background()
	stop, stepped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stepped)
		for {
			select {
			case <-stop:
				return
			default:
				fc.Step(100 * time.Millisecond)
				runtime.Gosched()
			}
		}
	}()
	var workers sync.WaitGroup
	for g := 0; g < 4; g++ {
		workers.Add(1)
		go func(g int) {
			defer workers.Done()
			for i := 0; i < 200; i++ {
				id, err := r.Create(ctx, container.Spec{Name: fmt.Sprintf("c%d-%d", g, i), Image: "app",
					Env: []string{"HOLLOW_RUN_FOR=300ms", "HOLLOW_STOP_AFTER=200ms", "HOLLOW_LOGS=x"}})
				if err != nil {
					t.Error(err)
					return
				}
				r.Start(ctx, id)
				r.Inspect(ctx, id)
				r.WriteLog(id, "y")
				sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				if err := r.Stop(sctx, id, time.Second); err != nil {
					t.Errorf("Stop: %v", err)
				}
				cancel()
				r.Remove(ctx, id)
			}
		}(g)
	}
	done := make(chan struct{})
	go func() { workers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("deadlock: workers still busy after 60s") // leaves the stuck goroutines behind
	}
	close(stop)
	<-stepped
	if all, _ := r.List(ctx, nil); len(all) != 0 {
		t.Errorf("%d containers left", len(all))
	}
}
