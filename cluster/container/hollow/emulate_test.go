package hollow

import (
	"context"
	"testing"
	"time"

	"github.com/drover-ci/drover/cluster/container"
)

func TestEmulatedTestImages(t *testing.T) {
	r, fc := newFake(t, Options{})
	ctx := context.Background()

	pause := run(t, r, "pause", "drover/pause:1")
	if err := r.Stop(ctx, pause, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if c := inspect(t, r, pause); c.ExitCode != 0 {
		t.Errorf("pause exit code after SIGTERM %d, want 0", c.ExitCode)
	}

	srv := run(t, r, "srv", "drover/testserver:1", "TERM_DELAY=2", "PORT=9000")
	for cmd, want := range map[string]int{"probe-ok": 0, "probe-fail": 1, "probe": 0} {
		if res, err := r.Exec(ctx, srv, []string{"/testserver", cmd}, time.Second); err != nil || res.ExitCode != want {
			t.Errorf("testserver %s = %+v, %v; want %d", cmd, res, err, want)
		}
	}
	r.SetHTTPHealth(srv, false)
	if res, _ := r.Exec(ctx, srv, []string{"/testserver", "probe"}, time.Second); res.ExitCode != 1 {
		t.Errorf("testserver probe while unhealthy = %d, want 1", res.ExitCode)
	}
	done := stopAsync(r, ctx, srv, 10*time.Second)
	waitTimer(t, fc)
	fc.Step(2 * time.Second)
	if err := recv(t, done); err != nil {
		t.Fatal(err)
	}
	if c := inspect(t, r, srv); c.ExitCode != 0 || !c.FinishedAt.Equal(t0.Add(2*time.Second)) {
		t.Errorf("testserver stopped with %d at +%v; want 0 after TERM_DELAY 2s", c.ExitCode, c.FinishedAt.Sub(t0))
	}
	if got := readLogs(t, r, srv, container.LogOptions{Tail: -1}); got != "listening on :9000\nterminating\n" {
		t.Errorf("testserver logs %q", got)
	}

	tests := []struct {
		name  string
		spec  container.Spec
		code  int
		oom   bool
		state container.State
		logs  string
	}{
		{"exec mode as command", container.Spec{Cmd: []string{"exec", "4", "0", "a", "b"}}, 4, false, container.StateExited, "a\nb\n"},
		{"bad SLEEP", container.Spec{Env: []string{"SLEEP=soon"}, Cmd: []string{"x"}}, 2, false, container.StateExited, "x\nbad SLEEP \"soon\"\n"},
		{"over the memory limit", container.Spec{Env: []string{"ALLOC_MB=64", "SLEEP=inf"}, MemoryLimit: 32 << 20}, 137, true, container.StateExited, ""},
		{"no memory limit", container.Spec{Env: []string{"ALLOC_MB=64", "SLEEP=inf"}}, 0, false, container.StateRunning, ""},
		{"exit code", container.Spec{Env: []string{"EXIT_CODE=9"}}, 9, false, container.StateExited, ""},
	}
	for i, tc := range tests {
		tc.spec.Name, tc.spec.Image = "exit"+string(rune('a'+i)), "drover/exit:1"
		id := start(t, r, tc.spec)
		c := inspect(t, r, id)
		if c.State != tc.state || c.ExitCode != tc.code || c.OOMKilled != tc.oom {
			t.Errorf("%s: %s %d oom %v; want %s %d %v", tc.name, c.State, c.ExitCode, c.OOMKilled, tc.state, tc.code, tc.oom)
		}
		if got := readLogs(t, r, id, container.LogOptions{Tail: -1}); got != tc.logs {
			t.Errorf("%s: logs %q, want %q", tc.name, got, tc.logs)
		}
	}
}
