package cronjob_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
)

// BenchmarkThousandDueTogether: 1,000 CronJobs on "* * * * *" against a real API server
// (apiservertest, in-memory store) with the controller on a fake clock. Each iteration steps
// the clock one second past the next minute and reports the wall time until all 1,000 Jobs of
// that minute are in the API server (seen through a watch): s-to-all-jobs (target ≤ 5 s).
func BenchmarkThousandDueTogether(b *testing.B) {
	const n = 1000
	cs, clk := startController(b)
	ctx := context.Background()
	var latest time.Time
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				cj, err := cs.BatchV1().CronJobs("default").Create(ctx, everyMinute(fmt.Sprintf("cj%04d", i), batchv1.AllowConcurrent), metav1.CreateOptions{})
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				if cj.CreationTimestamp.After(latest) {
					latest = cj.CreationTimestamp.Time
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	factory := informers.NewSharedInformerFactory(cs, 0)
	jobs := factory.Batch().V1().Jobs()
	lister := jobs.Lister()
	jobs.Informer()
	stop := make(chan struct{})
	defer close(stop)
	factory.Start(stop)
	factory.WaitForCacheSync(stop)
	time.Sleep(time.Second) // let the controller see every CronJob before the clock moves
	minute := latest.Truncate(time.Minute)
	var worst time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		minute = minute.Add(time.Minute)
		start := time.Now()
		clk.SetTime(minute.Add(time.Second))
		for {
			all, err := lister.List(labels.Everything())
			if err != nil {
				b.Fatal(err)
			}
			if len(all) >= n*(i+1) {
				break
			}
			if time.Since(start) > time.Minute {
				b.Fatalf("only %d of %d jobs after a minute", len(all), n*(i+1))
			}
			time.Sleep(5 * time.Millisecond)
		}
		if d := time.Since(start); d > worst {
			worst = d
		}
	}
	b.StopTimer()
	b.ReportMetric(worst.Seconds(), "s-to-all-jobs")
}
