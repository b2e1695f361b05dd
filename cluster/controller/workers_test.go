package controller

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// TestRunWorkers: a failing sync is retried, a requeue brings the key back, and Run ends with
// ctx and shuts the queue down.
func TestRunWorkers(t *testing.T) {
	q := workqueue.NewTypedRateLimitingQueue(workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Millisecond, 10*time.Millisecond))
	var mu sync.Mutex
	calls := map[string]int{}
	done := make(chan struct{})
	sync := func(_ context.Context, key string) (time.Duration, error) {
		mu.Lock()
		defer mu.Unlock()
		calls[key]++
		switch {
		case key == "flaky" && calls[key] < 3:
			return 0, errors.New("not yet")
		case key == "again" && calls[key] < 2:
			return 5 * time.Millisecond, nil
		}
		if calls["flaky"] >= 3 && calls["again"] >= 2 {
			select {
			case <-done:
			default:
				close(done)
			}
		}
		return 0, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan error, 1)
	go func() {
		ended <- RunWorkers(ctx, "test", q, []cache.InformerSynced{func() bool { return true }}, 2, sync)
	}()
	q.Add("flaky")
	q.Add("again")
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("calls = %v: want flaky retried to 3 and again requeued to 2", calls)
	}
	cancel()
	if err := <-ended; err != nil {
		t.Fatalf("RunWorkers: %v", err)
	}
	if !q.ShuttingDown() {
		t.Error("queue not shut down")
	}
}
