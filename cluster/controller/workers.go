package controller

import (
	"context"
	"log/slog"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// SyncFunc brings one queued object in line. A positive requeue asks for the key again after
// that long; an error retries it with the queue's rate limit.
type SyncFunc func(ctx context.Context, key string) (requeue time.Duration, err error)

// RunWorkers waits for the informer caches, then runs workers goroutines taking keys from
// queue and handing them to fn, until ctx ends. The queue is shut down as soon as ctx ends
// (a worker blocked in Get wakes up), and RunWorkers returns only after every worker has
// finished the sync it was in, so a controller's next term never overlaps this one. Failed
// syncs are logged to log (the controller's logger), at warn level; conflicts, a stale cache
// the retry will correct, at debug level.
func RunWorkers(ctx context.Context, log *slog.Logger, queue workqueue.TypedRateLimitingInterface[string], synced []cache.InformerSynced, workers int, fn SyncFunc) error {
	stop := ShutDownOnDone(ctx, queue)
	defer stop()
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return ctx.Err()
	}
	if workers < 1 {
		workers = 1
	}
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for processNext(ctx, log, queue, fn) {
			}
		}()
	}
	wg.Wait()
	return nil
}

// ShutDownOnDone shuts queue down when ctx ends, so that a loop blocked in queue.Get returns.
// The returned func shuts it down at once (call it with defer when the loop returns for
// another reason) and releases the goroutine.
func ShutDownOnDone(ctx context.Context, queue interface{ ShutDown() }) (stop func()) {
	done := make(chan struct{})
	var once sync.Once
	go func() {
		select {
		case <-ctx.Done():
		case <-done:
		}
		queue.ShutDown()
	}()
	return func() { once.Do(func() { close(done) }) }
}

// InformerShutdownWait is how long ShutdownInformers waits for an informer factory's goroutines.
const InformerShutdownWait = 2 * time.Second

// ShutdownInformers shuts factory down (its stop channel must be closed already) and waits at
// most wait for its informers to end. client-go's generated informers list with
// context.TODO(), so an informer in the middle of a LIST (retried on 429s) ends only when the
// server answers, however long after its stop channel closed; a controller that lost its lead
// must stop within the manager's stop timeout, and an informer past its stop channel takes no
// more action. It reports whether the informers ended within wait.
func ShutdownInformers(factory interface{ Shutdown() }, wait time.Duration) bool {
	done := make(chan struct{})
	go func() {
		defer close(done)
		factory.Shutdown()
	}()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// processNext syncs one key; it returns false when the queue is shut down or ctx has ended.
// A shut-down workqueue still hands out every key it holds; once ctx has ended they are
// dropped unsynced: a controller that lost its lead with thousands of keys queued would
// otherwise sync (and fail) each of them before it stops, past the manager's stop timeout.
func processNext(ctx context.Context, log *slog.Logger, queue workqueue.TypedRateLimitingInterface[string], sync SyncFunc) bool {
	key, quit := queue.Get()
	if quit {
		return false
	}
	defer queue.Done(key)
	if ctx.Err() != nil {
		return false
	}
	after, err := sync(ctx, key)
	if err != nil {
		level := slog.LevelWarn
		if apierrors.IsConflict(err) {
			level = slog.LevelDebug // a stale cache; the retry reads the newer object
		}
		log.Log(ctx, level, "sync failed", "key", key, "err", err)
		queue.AddRateLimited(key)
		return true
	}
	queue.Forget(key)
	if after > 0 {
		queue.AddAfter(key, after)
	}
	return true
}

// NoRequeue adapts a sync that never asks for a later look.
func NoRequeue(sync func(ctx context.Context, key string) error) SyncFunc {
	return func(ctx context.Context, key string) (time.Duration, error) { return 0, sync(ctx, key) }
}
