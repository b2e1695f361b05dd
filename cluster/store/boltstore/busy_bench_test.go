package boltstore

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// spinEnv makes the test binary a busy process (TestMain) for BenchmarkWritesBesideBusyProcesses.
const spinEnv = "BOLTSTORE_BENCH_SPIN"

func TestMain(m *testing.M) {
	if os.Getenv(spinEnv) == "1" {
		var n uint64
		for {
			n++ // a busy process until killed
		}
	}
	os.Exit(m.Run())
}

// BenchmarkWritesBesideBusyProcesses: 64 writers write 2 KB values as fast as they can while
// three busy processes per core share the machine, as a drover server shares two cores with
// 2,000 hollow nodes and the density driver, and 100 busy goroutines, as a loaded server's
// runtime; it reports the writes' p50 and p99 latency. With more runnable threads than cores, a
// commit lock handed from writer to writer waits for each new owner to be scheduled
// (docs/performance.md: a committer goroutine did better here and worse in the density step).
//
//	go test ./cluster/store/boltstore/ -run '^$' -bench BenchmarkWritesBesideBusyProcesses -benchtime 20000x
func BenchmarkWritesBesideBusyProcesses(b *testing.B) {
	for range 3 * runtime.NumCPU() {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), spinEnv+"=1")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	}
	// And a runtime as busy as a loaded server's: goroutines that always have work.
	stop := make(chan struct{})
	defer close(stop)
	for range 100 {
		go func() {
			var n uint64
			for {
				select {
				case <-stop:
					return
				default:
				}
				for range 100000 {
					n++
				}
			}
		}()
	}
	s, err := Open(filepath.Join(b.TempDir(), "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	value := make([]byte, 2048)
	const writers = 64
	var next atomic.Int64
	lat := make([][]time.Duration, writers)
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range writers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				start := time.Now()
				if _, err := s.Create(ctx, fmt.Sprintf("k/%d", i), value); err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(start))
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	b.ReportMetric(float64(all[len(all)/2])/1e6, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100])/1e6, "p99-ms")
	b.ReportMetric(float64(all[len(all)-1])/1e6, "max-ms")
	b.ReportMetric(float64(s.commits.Load()), "commits")
}
