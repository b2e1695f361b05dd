package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/drover-ci/drover/internal/logtest"
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
		ended <- RunWorkers(ctx, logtest.New(t), q, []cache.InformerSynced{func() bool { return true }}, 2, sync)
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

// TestRunWorkersStopWithAFullQueue: once ctx ends, the keys still queued are dropped, not
// synced one by one (a controller that lost its lead with thousands of keys queued must stop
// within the manager's stop timeout).
func TestRunWorkersStopWithAFullQueue(t *testing.T) {
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	calls := 0
	sync := func(ctx context.Context, key string) (time.Duration, error) {
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		if first {
			cancel() // the lead is lost while the first key syncs
		}
		return 0, ctx.Err()
	}
	for i := range 1000 {
		q.Add(fmt.Sprintf("ns/rc-%d", i))
	}
	if err := RunWorkers(ctx, logtest.New(t), q, []cache.InformerSynced{func() bool { return true }}, 1, sync); err != nil {
		t.Fatalf("RunWorkers: %v", err)
	}
	if calls != 1 {
		t.Errorf("%d syncs after ctx ended with 1000 keys queued, want only the one that was running", calls)
	}
}

// TestRunWorkersLogs: a failed sync is logged to the controller's logger with its key, at
// warn level, but a conflict (a stale cache the retry corrects) only at debug level.
func TestRunWorkersLogs(t *testing.T) {
	var buf logtest.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})).With("controller", "test")
	q := workqueue.NewTypedRateLimitingQueue(workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Hour, time.Hour))
	synced := make(chan string, 2)
	sync := func(_ context.Context, key string) (time.Duration, error) {
		defer func() { synced <- key }()
		if key == "stale" {
			return 0, apierrors.NewConflict(schema.GroupResource{Resource: "pods"}, "p", errors.New("changed"))
		}
		return 0, errors.New("boom")
	}
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan error, 1)
	go func() { ended <- RunWorkers(ctx, log, q, nil, 1, sync) }()
	q.Add("stale")
	q.Add("broken")
	<-synced
	<-synced
	cancel()
	if err := <-ended; err != nil {
		t.Fatalf("RunWorkers: %v", err)
	}
	out := buf.String()
	for _, want := range []string{
		`level=DEBUG msg="sync failed" controller=test key=stale`,
		`level=WARN msg="sync failed" controller=test key=broken err=boom`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("logged:\n%s\nwant a line with %s", out, want)
		}
	}
}
