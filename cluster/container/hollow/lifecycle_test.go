package hollow

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/drover-ci/drover/cluster/container"
)

func TestScriptedExit(t *testing.T) {
	r, fc := newFake(t, Options{Scripts: map[string]Script{
		"crash":   {Exit: true, RunFor: 10 * time.Second, ExitCode: 3},
		"forever": {ExitCode: 9}, // no Exit: runs until stopped
	}})
	crash := run(t, r, "crash", "crash")
	forever := run(t, r, "forever", "docker.io/library/forever:latest")
	fc.Step(9 * time.Second)
	if c := inspect(t, r, crash); c.State != container.StateRunning || !c.StartedAt.Equal(t0) {
		t.Fatalf("at 9s: %s started %v, want running since %v", c.State, c.StartedAt, t0)
	}
	fc.Step(time.Second)
	c := inspect(t, r, crash)
	if c.State != container.StateExited || c.ExitCode != 3 || !c.FinishedAt.Equal(t0.Add(10*time.Second)) {
		t.Errorf("at 10s: %s code %d finished %v; want exited 3 at +10s", c.State, c.ExitCode, c.FinishedAt)
	}
	fc.Step(time.Hour)
	if c := inspect(t, r, forever); c.State != container.StateRunning {
		t.Errorf("forever: %s after an hour", c.State)
	}
}

func TestEnvScripts(t *testing.T) {
	tests := []struct {
		name     string
		env      []string
		at       time.Duration // when to look
		state    container.State
		code     int
		oom      bool
		finished time.Duration
	}{
		{"exit code at once", []string{"HOLLOW_EXIT_CODE=1"}, 0, container.StateExited, 1, false, 0},
		{"run for", []string{"HOLLOW_RUN_FOR=5s"}, 5 * time.Second, container.StateExited, 0, false, 5 * time.Second},
		{"run for, not yet", []string{"HOLLOW_RUN_FOR=5s", "HOLLOW_EXIT_CODE=4"}, 4 * time.Second, container.StateRunning, 0, false, 0},
		{"run for then code", []string{"HOLLOW_RUN_FOR=1m", "HOLLOW_EXIT_CODE=4"}, time.Minute, container.StateExited, 4, false, time.Minute},
		{"oom", []string{"HOLLOW_OOM=true", "HOLLOW_RUN_FOR=2s"}, 2 * time.Second, container.StateExited, 137, true, 2 * time.Second},
		{"plain seconds", []string{"HOLLOW_RUN_FOR=1.5"}, 1500 * time.Millisecond, container.StateExited, 0, false, 1500 * time.Millisecond},
		{"other env ignored", []string{"PATH=/bin", "HOLLOW_UNKNOWN=1"}, time.Hour, container.StateRunning, 0, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, fc := newFake(t, Options{})
			id := run(t, r, "c", "app:1", tc.env...)
			fc.Step(tc.at)
			c := inspect(t, r, id)
			if c.State != tc.state || c.ExitCode != tc.code || c.OOMKilled != tc.oom {
				t.Errorf("%s code %d oom %v; want %s %d %v", c.State, c.ExitCode, c.OOMKilled, tc.state, tc.code, tc.oom)
			}
			if tc.state == container.StateExited && !c.FinishedAt.Equal(t0.Add(tc.finished)) {
				t.Errorf("finished at %v, want +%v", c.FinishedAt.Sub(t0), tc.finished)
			}
		})
	}
}

func TestStartErrorAndRestart(t *testing.T) {
	r, fc := newFake(t, Options{})
	ctx := context.Background()
	id, _ := r.Create(ctx, container.Spec{Name: "bad", Image: "app", Env: []string{"HOLLOW_START_ERROR=exec: not found"}})
	if err := r.Start(ctx, id); err == nil {
		t.Fatal("Start succeeded despite HOLLOW_START_ERROR")
	}
	if c := inspect(t, r, id); c.State != container.StateCreated || c.Error != "exec: not found" || c.ExitCode != 128 {
		t.Errorf("after failed start: %+v", c)
	}
	again := run(t, r, "again", "app", "HOLLOW_RUN_FOR=1s", "HOLLOW_EXIT_CODE=2", "HOLLOW_LOGS=hi")
	fc.Step(time.Second)
	first := inspect(t, r, again)
	fc.Step(time.Minute)
	if err := r.Start(ctx, again); err != nil {
		t.Fatalf("restart: %v", err)
	}
	second := inspect(t, r, again)
	if second.State != container.StateRunning || !second.StartedAt.Equal(first.StartedAt.Add(time.Minute+time.Second)) || !second.FinishedAt.IsZero() {
		t.Errorf("second run: %+v", second)
	}
	fc.Step(time.Second)
	if c := inspect(t, r, again); c.State != container.StateExited || c.ExitCode != 2 {
		t.Errorf("second run ended %s %d", c.State, c.ExitCode)
	}
	if err := r.Start(ctx, again); err != nil { // starting twice is fine
		t.Fatal(err)
	}
	if err := r.Start(ctx, again); err != nil {
		t.Errorf("Start of a running container: %v", err)
	}
}

func TestStopPlans(t *testing.T) {
	tests := []struct {
		name  string
		env   []string
		grace time.Duration
		after time.Duration // when it exits
		code  int
	}{
		{"honours SIGTERM", nil, 30 * time.Second, 0, 143},
		{"term exit code", []string{"HOLLOW_TERM_EXIT_CODE=0"}, 30 * time.Second, 0, 0},
		{"ignores SIGTERM", []string{"HOLLOW_IGNORE_SIGTERM=true"}, 30 * time.Second, 30 * time.Second, 137},
		{"slow but in time", []string{"HOLLOW_STOP_AFTER=5s"}, 30 * time.Second, 5 * time.Second, 143},
		{"too slow", []string{"HOLLOW_STOP_AFTER=1m"}, 30 * time.Second, 30 * time.Second, 137},
		{"no grace", []string{"HOLLOW_IGNORE_SIGTERM=1"}, 0, 0, 137},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, fc := newFake(t, Options{})
			id := run(t, r, "c", "app", tc.env...)
			done := stopAsync(r, context.Background(), id, tc.grace)
			if tc.after > 0 {
				waitTimer(t, fc)
				fc.Step(tc.after - time.Millisecond)
				if !pending(done) {
					t.Fatalf("Stop returned before %v", tc.after)
				}
				fc.Step(time.Millisecond)
			}
			if err := recv(t, done); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			c := inspect(t, r, id)
			if c.State != container.StateExited || c.ExitCode != tc.code || !c.FinishedAt.Equal(t0.Add(tc.after)) {
				t.Errorf("%s code %d at +%v; want exited %d at +%v", c.State, c.ExitCode, c.FinishedAt.Sub(t0), tc.code, tc.after)
			}
			if err := r.Stop(context.Background(), id, time.Second); err != nil {
				t.Errorf("Stop of an exited container: %v", err)
			}
		})
	}
}

func TestStopContextEndsWaitNotKill(t *testing.T) {
	r, fc := newFake(t, Options{})
	id := run(t, r, "c", "app", "HOLLOW_IGNORE_SIGTERM=1")
	ctx, cancel := context.WithCancel(context.Background())
	done := stopAsync(r, ctx, id, 30*time.Second)
	waitTimer(t, fc)
	cancel()
	if err := recv(t, done); !errors.Is(err, context.Canceled) {
		t.Errorf("Stop after cancel: %v, want context.Canceled", err)
	}
	if c := inspect(t, r, id); c.State != container.StateRunning {
		t.Fatalf("state %s before the grace deadline", c.State)
	}
	// A second Stop with a shorter grace (like a forced delete) kills sooner.
	done = stopAsync(r, context.Background(), id, 2*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for pending(done) && time.Now().Before(deadline) {
		fc.Step(100 * time.Millisecond)
	}
	if c := inspect(t, r, id); c.State != container.StateExited || c.ExitCode != 137 || c.FinishedAt.Sub(t0) > 3*time.Second {
		t.Errorf("after second Stop: %s %d at +%v; want killed within 3s", c.State, c.ExitCode, c.FinishedAt.Sub(t0))
	}
}

func TestRemove(t *testing.T) {
	r, _ := newFake(t, Options{})
	ctx := context.Background()
	id := run(t, r, "c", "app")
	if err := r.Remove(ctx, id); err != nil {
		t.Fatalf("Remove(running): %v", err)
	}
	for name, err := range map[string]error{
		"Inspect": func() error { _, err := r.Inspect(ctx, id); return err }(),
		"Remove":  r.Remove(ctx, id),
		"Start":   r.Start(ctx, id),
		"Stop":    r.Stop(ctx, id, time.Second),
	} {
		if !errors.Is(err, container.ErrNotFound) {
			t.Errorf("%s after Remove: %v, want ErrNotFound", name, err)
		}
	}
	if _, err := r.Create(ctx, container.Spec{Name: "c", Image: "app"}); err != nil {
		t.Errorf("name not free after Remove: %v", err)
	}
}

func TestCreateChecks(t *testing.T) {
	r, _ := newFake(t, Options{})
	ctx := context.Background()
	id := run(t, r, "taken", "app")
	if _, err := r.Create(ctx, container.Spec{Name: "taken", Image: "app"}); err == nil {
		t.Errorf("Create with a taken name succeeded")
	}
	if _, err := r.Create(ctx, container.Spec{Name: "x", Image: "app", NetworkMode: "nonet"}); err == nil {
		t.Errorf("Create on a missing network succeeded")
	}
	for _, ref := range []string{id, "taken", "/taken", id[:12]} {
		if c, err := r.Inspect(ctx, ref); err != nil || c.ID != id {
			t.Errorf("Inspect(%q) = %s, %v; want %s", ref, c.ID, err, id)
		}
	}
	noName, err := r.Create(ctx, container.Spec{Image: "app"})
	if err != nil || inspect(t, r, noName).Name == "" {
		t.Errorf("Create without a name: %v", err)
	}
}
