package nodeagent

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/drover-ci/drover/cluster/container"
	"github.com/drover-ci/drover/cluster/container/hollow"
)

// countingRuntime counts List calls.
type countingRuntime struct {
	*hollow.Runtime
	lists atomic.Int64
}

func (c *countingRuntime) List(ctx context.Context, match map[string]string) ([]container.Container, error) {
	c.lists.Add(1)
	return c.Runtime.List(ctx, match)
}

// TestRelistSkipsAnUnchangedVersionedRuntime: against a runtime that says when its containers
// change (hollow), the relist lists only after a change — a container created, started,
// exited or removed — and still queues the pod that changed; a hollow node's relist every
// second was most of what 2,000 hollow nodes cost on the density test's machine.
func TestRelistSkipsAnUnchangedVersionedRuntime(t *testing.T) {
	fc := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	rt := &countingRuntime{Runtime: hollow.New(hollow.Options{Clock: fc})}
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[types.UID]())
	defer q.ShutDown()
	a := &Agent{cfg: Config{Runtime: rt, Clock: fc, Relist: time.Second, NodeName: "n"}, queue: q,
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.relist(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	// tick steps the fake clock by one relist period n times, each once the relist waits for
	// it; want is the lists expected after, waited for (and, if none is due, a moment given to
	// a wrong one).
	tick := func(n int, want int64) {
		t.Helper()
		for range n {
			fc.Step(time.Second)
			time.Sleep(20 * time.Millisecond)
		}
		deadline := time.Now().Add(10 * time.Second)
		for rt.lists.Load() < want && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond)
		if got := rt.lists.Load(); got != want {
			t.Fatalf("%d lists, want %d", got, want)
		}
	}
	queued := func(want types.UID) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for q.Len() == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if q.Len() != 1 {
			t.Fatalf("queue holds %d pods, want %s", q.Len(), want)
		}
		uid, _ := q.Get()
		q.Done(uid)
		if uid != want {
			t.Fatalf("queued %q, want %s", uid, want)
		}
	}
	for !fc.HasWaiters() {
		time.Sleep(time.Millisecond)
	}
	tick(1, 1) // the first relist always lists
	tick(5, 1) // nothing changed: no list

	id, err := rt.Create(ctx, container.Spec{Name: "c", Image: "app:x", NetworkMode: "bridge",
		Labels: map[string]string{LabelManaged: "true", LabelNode: "n", LabelPodUID: "pod-1", LabelContainer: "c"}})
	if err != nil {
		t.Fatal(err)
	}
	tick(1, 2)
	queued("pod-1")
	tick(3, 2)
	if err := rt.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	tick(1, 3)
	queued("pod-1")
	if err := rt.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
	tick(1, 4)
	queued("pod-1")
}
