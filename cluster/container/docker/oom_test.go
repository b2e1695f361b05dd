package docker

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/drover-ci/drover/cluster/container"
)

// TestOOMFromTheEventLog: a container killed by the kernel for its memory limit has an "oom"
// event in the engine's log, which Inspect reads when the engine's state lost the flag (Docker
// 20.10 under load handles the exit before the OOM event); a container killed with SIGKILL by
// hand has none.
func TestOOMFromTheEventLog(t *testing.T) {
	rt := engine(t)
	ctx := context.Background()
	run := func(name string, env []string, mem int64) container.Container {
		spec := container.Spec{Image: TestImages["exit"], Env: env, MemoryLimit: mem,
			Name:   fmt.Sprintf("dt-%s-%s-%d", strings.ToLower(t.Name()), name, time.Now().UnixNano()),
			Labels: map[string]string{"drover.test/docker": "1"}}
		id, err := rt.Create(ctx, spec)
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		t.Cleanup(func() { rt.Remove(context.Background(), id) })
		if err := rt.Start(ctx, id); err != nil {
			t.Fatalf("Start: %v", err)
		}
		if name == "killed" {
			time.Sleep(500 * time.Millisecond)
			if err := rt.Client().ContainerKill(ctx, id, "KILL"); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			c, err := rt.Inspect(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if c.State == container.StateExited {
				return c
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not exit: %+v", name, c)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	oom := run("oom", []string{"ALLOC_MB=256", "ALLOC_DELAY=1", "SLEEP=inf"}, 32<<20)
	if oom.ExitCode != 137 {
		t.Fatalf("oom container exited %d, want 137", oom.ExitCode)
	}
	if !rt.oomLogged(ctx, oom.ID, oom.StartedAt) {
		t.Error("no oom event in the engine's log for a container over its memory limit")
	}
	lost := oom
	lost.OOMKilled = false // as the engine reports it when it handled the exit first
	if got := rt.withOOMEvent(ctx, lost); !got.OOMKilled {
		t.Error("withOOMEvent did not restore OOMKilled from the event log")
	}
	killed := run("killed", []string{"SLEEP=inf"}, 0)
	if killed.ExitCode != 137 || killed.OOMKilled {
		t.Fatalf("killed container: exit %d, OOMKilled %v; want 137, false", killed.ExitCode, killed.OOMKilled)
	}
	if rt.oomLogged(ctx, killed.ID, killed.StartedAt) {
		t.Error("an oom event for a container stopped with SIGKILL")
	}
}
