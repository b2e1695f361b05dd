package runtimetest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/drover-ci/drover/cluster/container"
)

func (s *suite) testLogs(t *testing.T) {
	id := s.run(t, s.exitSpec(t, []string{"SLEEP=0"}, "one", "two", "three"))
	c := s.waitState(t, id, container.StateExited)
	if got := s.logs(t, id, container.LogOptions{Tail: -1}); got != "one\ntwo\nthree\n" {
		t.Errorf("logs = %q, want one two three", got)
	}
	if got := s.logs(t, id, container.LogOptions{Tail: 2}); got != "two\nthree\n" {
		t.Errorf("logs tail 2 = %q", got)
	}
	since := c.FinishedAt.Add(2 * time.Second)
	if got := s.logs(t, id, container.LogOptions{Tail: -1, Since: since}); got != "" {
		t.Errorf("logs since after exit = %q, want none", got)
	}
	stamped := s.logs(t, id, container.LogOptions{Tail: -1, Timestamps: true})
	lines := strings.Split(strings.TrimSuffix(stamped, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("timestamped logs = %q", stamped)
	}
	for i, l := range lines {
		ts, text, _ := strings.Cut(l, " ")
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || text != []string{"one", "two", "three"}[i] {
			t.Errorf("line %q: time %v (%v), text %q", l, at, err, text)
		}
		if at.Before(c.StartedAt.Add(-time.Second)) || at.After(c.FinishedAt.Add(time.Second)) {
			t.Errorf("line %q stamped outside the run %v..%v", l, c.StartedAt, c.FinishedAt)
		}
	}
	bad := s.run(t, s.exitSpec(t, []string{"SLEEP=soon"}))
	if c := s.waitState(t, bad, container.StateExited); c.ExitCode != 2 {
		t.Errorf("bad SLEEP exit code %d, want 2", c.ExitCode)
	}
	if got := s.logs(t, bad, container.LogOptions{Tail: -1}); !strings.Contains(got, "bad SLEEP") {
		t.Errorf("stderr missing from logs: %q", got)
	}
}

func (s *suite) testLogsFollow(t *testing.T) {
	id := s.run(t, s.exitSpec(t, []string{"SLEEP=1.5"}, "a", "b"))
	rc, err := s.rt.Logs(s.ctx(t), id, container.LogOptions{Follow: true, Tail: -1})
	if err != nil {
		t.Fatalf("Logs follow: %v", err)
	}
	defer rc.Close()
	r := bufio.NewReader(rc)
	first, err := r.ReadString('\n')
	if err != nil || first != "a\n" {
		t.Fatalf("first followed line %q, %v", first, err)
	}
	if c, err := s.rt.Inspect(s.ctx(t), id); err != nil || c.State != container.StateRunning {
		t.Errorf("container not running while its first line was followed: %v %v", c.State, err)
	}
	done := make(chan string, 1)
	go func() {
		rest, err := io.ReadAll(r)
		if err != nil {
			rest = append(rest, "read error: "+err.Error()...)
		}
		done <- string(rest)
	}()
	select {
	case rest := <-done:
		if rest != "b\n" {
			t.Errorf("rest of followed logs = %q, want b", rest)
		}
		if c, _ := s.rt.Inspect(s.ctx(t), id); c.State != container.StateExited {
			t.Errorf("follow ended while the container was %s", c.State)
		}
	case <-time.After(s.opts.Timeout):
		t.Fatalf("follow did not end after the container exited")
	}
}

func (s *suite) testExec(t *testing.T) {
	spec := s.exitSpec(t, []string{"SLEEP=inf", "FOO=bar baz"})
	id := s.run(t, spec)
	s.waitState(t, id, container.StateRunning)
	res, err := s.rt.Exec(s.ctx(t), id, []string{"/exit", "exec", "3", "0", "hello", "world"}, 10*time.Second)
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	if res.ExitCode != 3 || string(res.Output) != "hello\nworld\n" {
		t.Errorf("Exec = %d %q, want 3 %q", res.ExitCode, res.Output, "hello\nworld\n")
	}
	res, err = s.rt.Exec(s.ctx(t), id, []string{"/exit", "env"}, 10*time.Second)
	if err != nil || res.ExitCode != 0 || !strings.Contains(string(res.Output), "FOO=bar baz\n") {
		t.Errorf("Exec env = %d %q, %v; want FOO=bar baz", res.ExitCode, res.Output, err)
	}
	if _, err := s.rt.Exec(s.ctx(t), id, []string{"/no/such/binary"}, 10*time.Second); err == nil {
		// Docker reports a missing binary as exit code 126/127 or an error: either is fine,
		// but it must not look like success.
		res, _ := s.rt.Exec(s.ctx(t), id, []string{"/no/such/binary"}, 10*time.Second)
		if res.ExitCode == 0 {
			t.Errorf("Exec of a missing binary succeeded")
		}
	}
	s.rt.Stop(s.ctx(t), id, time.Second)
	s.waitState(t, id, container.StateExited)
	if _, err := s.rt.Exec(s.ctx(t), id, []string{"/exit", "exec", "0", "0"}, 10*time.Second); err == nil {
		t.Errorf("Exec in an exited container succeeded")
	}
}

func (s *suite) testExecTimeout(t *testing.T) {
	id := s.run(t, s.exitSpec(t, []string{"SLEEP=inf"}))
	s.waitState(t, id, container.StateRunning)
	start := time.Now()
	_, err := s.rt.Exec(s.ctx(t), id, []string{"/exit", "exec", "0", "30"}, 500*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Exec beyond its timeout: %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Exec with 500ms timeout returned after %v", d)
	}
}
