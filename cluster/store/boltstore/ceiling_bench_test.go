package boltstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drover-ci/drover/cluster/store/boltstore"
)

// BenchmarkWriteCeiling is the store's write ceiling: creates of 1.5 KB values (a small pod) by
// 1, 8, 64 and 256 concurrent writers on a real file, each write durable (fsync'd) before it
// returns. It uses only the store's public API, so the same file runs against the store
// before group commit (dd686c3: one transaction and its fsyncs per write, one writer at a
// time) and after; docs/performance.md has both.
//
//	go test ./cluster/store/boltstore/ -run '^$' -bench BenchmarkWriteCeiling -benchtime 2000x
func BenchmarkWriteCeiling(b *testing.B) {
	for _, writers := range []int{1, 8, 64, 256} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s, err := boltstore.OpenWithOptions(filepath.Join(b.TempDir(), "state.db"), boltstore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			value := make([]byte, 1500)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						if _, err := s.Create(context.Background(), fmt.Sprintf("/registry/pods/ns/p-%09d", i), value); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "writes/s")
		})
	}
}
