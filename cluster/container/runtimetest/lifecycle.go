package runtimetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-ci/drover/cluster/container"
)

func (s *suite) testInfo(t *testing.T) {
	info, err := s.rt.Info(s.ctx(t))
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if info.RuntimeName == "" || info.EngineVersion == "" || info.CPUs <= 0 || info.MemoryBytes <= 0 {
		t.Errorf("Info incomplete: %+v", info)
	}
}

func (s *suite) testImagePresent(t *testing.T) {
	for img, want := range map[string]bool{s.opts.ExitImage: true, s.opts.PauseImage: true, s.opts.MissingImage: false} {
		got, err := s.rt.ImagePresent(s.ctx(t), img)
		if err != nil || got != want {
			t.Errorf("ImagePresent(%s) = %v, %v; want %v", img, got, err, want)
		}
	}
}

func (s *suite) testCreateStartInspect(t *testing.T) {
	spec := s.exitSpec(t, []string{"SLEEP=inf"}, "hello")
	spec.Labels["app"] = "one"
	before := time.Now().Add(-2 * time.Second)
	id := s.create(t, spec)
	c, err := s.rt.Inspect(s.ctx(t), id)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if c.ID != id || c.Name != spec.Name || c.Image != spec.Image || c.State != container.StateCreated {
		t.Errorf("after Create: ID %q Name %q Image %q State %q; want %q %q %q created", c.ID, c.Name, c.Image, c.State, id, spec.Name, spec.Image)
	}
	if c.Labels["app"] != "one" || c.Labels[RunLabel] != s.runID {
		t.Errorf("labels = %v", c.Labels)
	}
	if c.CreatedAt.Before(before) || !c.StartedAt.IsZero() {
		t.Errorf("CreatedAt %v (want after %v), StartedAt %v (want zero)", c.CreatedAt, before, c.StartedAt)
	}
	if err := s.rt.Start(s.ctx(t), id); err != nil {
		t.Fatalf("Start: %v", err)
	}
	c = s.waitState(t, id, container.StateRunning)
	if c.StartedAt.Before(c.CreatedAt) || !c.FinishedAt.IsZero() || c.ExitCode != 0 {
		t.Errorf("running: StartedAt %v CreatedAt %v FinishedAt %v ExitCode %d", c.StartedAt, c.CreatedAt, c.FinishedAt, c.ExitCode)
	}
	if c.ImageID == "" {
		t.Errorf("ImageID empty")
	}
}

func (s *suite) testList(t *testing.T) {
	group := map[string]string{RunLabel: s.runID, "group": s.name(t)}
	var want []string
	for i, env := range [][]string{{"SLEEP=inf"}, {"SLEEP=0"}, nil} {
		spec := s.exitSpec(t, env)
		spec.Labels["group"] = group["group"]
		id := s.create(t, spec)
		want = append(want, id)
		if i < 2 {
			s.rt.Start(s.ctx(t), id)
		}
	}
	s.waitState(t, want[1], container.StateExited)
	other := s.exitSpec(t, nil)
	other.Labels["group"] = "other-" + group["group"]
	s.create(t, other)

	cs, err := s.rt.List(s.ctx(t), group)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var got []string
	states := map[container.State]int{}
	for _, c := range cs {
		got = append(got, c.ID)
		states[c.State]++
		if c.Labels["group"] != group["group"] {
			t.Errorf("listed %s with labels %v", c.Name, c.Labels)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List IDs (-want +got):\n%s", diff)
	}
	wantStates := map[container.State]int{container.StateRunning: 1, container.StateExited: 1, container.StateCreated: 1}
	if diff := cmp.Diff(wantStates, states); diff != "" {
		t.Errorf("List states (-want +got):\n%s", diff)
	}
	none, err := s.rt.List(s.ctx(t), map[string]string{RunLabel: s.runID, "group": "nobody"})
	if err != nil || len(none) != 0 {
		t.Errorf("List(unmatched) = %d containers, %v; want none", len(none), err)
	}
}

func (s *suite) testExitCodes(t *testing.T) {
	for _, code := range []int{0, 3, 42} {
		id := s.run(t, s.exitSpec(t, []string{"SLEEP=0.1", "EXIT_CODE=" + itoa(int64(code))}))
		c := s.waitState(t, id, container.StateExited)
		if c.ExitCode != code || c.OOMKilled {
			t.Errorf("exit code %d OOMKilled %v; want %d false", c.ExitCode, c.OOMKilled, code)
		}
		if c.FinishedAt.Before(c.StartedAt) || c.StartedAt.IsZero() {
			t.Errorf("StartedAt %v FinishedAt %v", c.StartedAt, c.FinishedAt)
		}
	}
}

func (s *suite) testStopHonoured(t *testing.T) {
	id := s.run(t, s.exitSpec(t, []string{"SLEEP=inf", "TERM_CODE=0"}, "up"))
	s.waitLogs(t, id, "up")
	start := time.Now()
	if err := s.rt.Stop(s.ctx(t), id, 10*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Stop of a container that honours SIGTERM took %v", d)
	}
	c := s.waitState(t, id, container.StateExited)
	if c.ExitCode != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", c.ExitCode)
	}
	s.waitLogs(t, id, "signal: SIGTERM")
	if err := s.rt.Stop(s.ctx(t), id, time.Second); err != nil {
		t.Errorf("Stop of an exited container: %v", err)
	}
}

func (s *suite) testStopKills(t *testing.T) {
	id := s.run(t, s.exitSpec(t, []string{"SLEEP=inf", "IGNORE_TERM=1"}, "up"))
	s.waitLogs(t, id, "up")
	start := time.Now()
	if err := s.rt.Stop(s.ctx(t), id, time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 8*time.Second {
		t.Errorf("Stop with 1s grace of a container ignoring SIGTERM took %v", d)
	}
	c := s.waitState(t, id, container.StateExited)
	if c.ExitCode != 137 {
		t.Errorf("exit code after kill = %d, want 137", c.ExitCode)
	}
	if got := s.logs(t, id, container.LogOptions{Tail: -1}); !strings.Contains(got, "signal: SIGTERM") {
		t.Errorf("logs %q: SIGTERM was not sent before the kill", got)
	}
}

func (s *suite) testStopSignal(t *testing.T) {
	spec := s.exitSpec(t, []string{"SLEEP=inf", "TERM_CODE=5"}, "up")
	spec.StopSignal = "SIGINT"
	id := s.run(t, spec)
	s.waitLogs(t, id, "up")
	if err := s.rt.Stop(s.ctx(t), id, 10*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	c := s.waitState(t, id, container.StateExited)
	if c.ExitCode != 5 {
		t.Errorf("exit code = %d, want 5 (TERM_CODE)", c.ExitCode)
	}
	s.waitLogs(t, id, "signal: SIGINT")
}

func (s *suite) testRestart(t *testing.T) {
	id := s.run(t, s.exitSpec(t, []string{"SLEEP=0.2", "EXIT_CODE=2"}, "ran"))
	first := s.waitState(t, id, container.StateExited)
	if first.ExitCode != 2 {
		t.Fatalf("first run exit code %d, want 2", first.ExitCode)
	}
	if err := s.rt.Start(s.ctx(t), id); err != nil {
		t.Fatalf("Start again: %v", err)
	}
	second := s.wait(t, id, "exited again", func(c container.Container) bool {
		return c.State == container.StateExited && c.StartedAt.After(first.StartedAt)
	})
	if second.ExitCode != 2 || second.ID != first.ID {
		t.Errorf("second run: %+v", second)
	}
	if n := strings.Count(s.logs(t, id, container.LogOptions{Tail: -1}), "ran\n"); n != 2 {
		t.Errorf("logs hold %d runs, want 2", n)
	}
}

func (s *suite) testRemove(t *testing.T) {
	running := s.run(t, s.exitSpec(t, []string{"SLEEP=inf"}))
	s.waitState(t, running, container.StateRunning)
	exited := s.run(t, s.exitSpec(t, nil))
	s.waitState(t, exited, container.StateExited)
	for _, id := range []string{running, exited} {
		if err := s.rt.Remove(s.ctx(t), id); err != nil {
			t.Fatalf("Remove(%s): %v", id, err)
		}
		if _, err := s.rt.Inspect(s.ctx(t), id); !isNotFound(err) {
			t.Errorf("Inspect after Remove: %v, want ErrNotFound", err)
		}
	}
	cs, err := s.rt.List(s.ctx(t), map[string]string{RunLabel: s.runID})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.ID == running || c.ID == exited {
			t.Errorf("List still shows removed %s", c.Name)
		}
	}
}
