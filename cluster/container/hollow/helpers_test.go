package hollow

import (
	"context"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/drover-ci/drover/cluster/container"
	"github.com/drover-ci/drover/internal/uptest"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newFake(t *testing.T, opts Options) (*Runtime, *clocktesting.FakeClock) {
	t.Helper()
	fc := clocktesting.NewFakeClock(t0)
	opts.Clock = fc
	return New(opts), fc
}

// run creates and starts a container of image with env, failing the test on error.
func run(t *testing.T, r *Runtime, name, image string, env ...string) string {
	t.Helper()
	id, err := r.Create(context.Background(), container.Spec{Name: name, Image: image, Env: env})
	if err != nil {
		t.Fatalf("Create(%s): %v", name, err)
	}
	if err := r.Start(context.Background(), id); err != nil {
		t.Fatalf("Start(%s): %v", name, err)
	}
	return id
}

func inspect(t *testing.T, r *Runtime, id string) container.Container {
	t.Helper()
	c, err := r.Inspect(context.Background(), id)
	if err != nil {
		t.Fatalf("Inspect(%s): %v", id, err)
	}
	return c
}

// stopAsync calls Stop in a goroutine and returns a channel with its result.
func stopAsync(r *Runtime, ctx context.Context, id string, grace time.Duration) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- r.Stop(ctx, id, grace) }()
	return ch
}

// waitTimer waits until the fake clock has a pending timer (a Stop has scheduled its kill).
func waitTimer(t *testing.T, fc *clocktesting.FakeClock) {
	t.Helper()
	uptest.Eventually(t, 5*time.Second, "a timer to be scheduled", fc.HasWaiters)
}

func recv(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("call did not return")
		return nil
	}
}

func pending(ch <-chan error) bool {
	select {
	case <-ch:
		return false
	case <-time.After(20 * time.Millisecond):
		return true
	}
}
