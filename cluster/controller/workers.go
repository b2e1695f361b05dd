package controller

import (
	"context"
	"log/slog"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// SyncFunc brings one queued object in line. A positive requeue asks for the key again after
// that long; an error retries it with the queue's rate limit.
type SyncFunc func(ctx context.Context, key string) (requeue time.Duration, err error)

// RunWorkers waits for the informer caches, then runs workers goroutines taking keys from
// queue and handing them to sync, until ctx ends; it shuts the queue down on return. name
// labels the log lines of failed syncs (conflicts, a stale cache, are logged at debug level).
func RunWorkers(ctx context.Context, name string, queue workqueue.TypedRateLimitingInterface[string], synced []cache.InformerSynced, workers int, sync SyncFunc) error {
	defer queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return ctx.Err()
	}
	if workers < 1 {
		workers = 1
	}
	for i := 0; i < workers; i++ {
		go func() {
			for processNext(ctx, name, queue, sync) {
			}
		}()
	}
	<-ctx.Done()
	return nil
}

// processNext syncs one key; it returns false when the queue is shut down.
func processNext(ctx context.Context, name string, queue workqueue.TypedRateLimitingInterface[string], sync SyncFunc) bool {
	key, quit := queue.Get()
	if quit {
		return false
	}
	defer queue.Done(key)
	after, err := sync(ctx, key)
	if err != nil {
		level := slog.LevelWarn
		if apierrors.IsConflict(err) {
			level = slog.LevelDebug // a stale cache; the retry reads the newer object
		}
		slog.Log(ctx, level, name+": sync failed", "key", key, "err", err)
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
