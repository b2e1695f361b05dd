package docker

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"

	"github.com/drover-ci/drover/cluster/container/runtimetest"
	"github.com/drover-ci/drover/internal/uptest"
)

// engine connects to the engine at DOCKER_HOST and builds the test images it lacks. Without
// an engine the test is skipped, unless DROVER_E2E=1 demands one.
func engine(t testing.TB) *Runtime {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rt, err := New(ctx)
	if err != nil {
		uptest.RequireE2E(t, fmt.Sprintf("no Docker engine (start one with eval \"$(scripts/docker-up.sh)\"): %v", err))
	}
	t.Cleanup(func() { rt.Close() })
	bctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := BuildTestImages(bctx, rt.Client(), false); err != nil {
		t.Fatalf("building test images: %v", err)
	}
	return rt
}

func TestConformance(t *testing.T) {
	rt := engine(t)
	ref := registry(t, "drover/pulled", "1")
	t.Cleanup(func() {
		rt.Client().ImageRemove(context.Background(), ref, image.RemoveOptions{Force: true, PruneChildren: true})
	})
	runtimetest.Run(t, rt, runtimetest.Options{
		PullImage:    ref,
		MissingImage: strings.TrimSuffix(ref, ":1") + ":absent",
	})
}
