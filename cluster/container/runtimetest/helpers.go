package runtimetest

import (
	"context"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drover-ci/drover/cluster/container"
)

var seq atomic.Int64

// ctx is a context bounded by the suite's timeout, cancelled when t ends.
func (s *suite) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*s.opts.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// name is a unique container name for this run.
func (s *suite) name(t *testing.T) string {
	n := strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())
	if len(n) > 40 {
		n = n[len(n)-40:]
	}
	return "rt-" + s.runID + "-" + strings.Trim(n, "-.") + "-" + itoa(seq.Add(1))
}

func itoa(n int64) string {
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}

// exitSpec describes a container of the exit image with env and args.
func (s *suite) exitSpec(t *testing.T, env []string, args ...string) container.Spec {
	return container.Spec{
		Name:   s.name(t),
		Image:  s.opts.ExitImage,
		Cmd:    args,
		Env:    env,
		Labels: map[string]string{},
	}
}

// create creates spec (adding the run label) and returns its ID.
func (s *suite) create(t *testing.T, spec container.Spec) string {
	t.Helper()
	if spec.Labels == nil {
		spec.Labels = map[string]string{}
	}
	spec.Labels[RunLabel] = s.runID
	id, err := s.rt.Create(s.ctx(t), spec)
	if err != nil {
		t.Fatalf("Create(%s): %v", spec.Name, err)
	}
	if id == "" {
		t.Fatalf("Create(%s) returned an empty ID", spec.Name)
	}
	return id
}

// run creates and starts spec.
func (s *suite) run(t *testing.T, spec container.Spec) string {
	t.Helper()
	id := s.create(t, spec)
	if err := s.rt.Start(s.ctx(t), id); err != nil {
		t.Fatalf("Start(%s): %v", spec.Name, err)
	}
	return id
}

// wait polls Inspect until ok accepts the container or the timeout passes.
func (s *suite) wait(t *testing.T, id, what string, ok func(container.Container) bool) container.Container {
	t.Helper()
	deadline := time.Now().Add(s.opts.Timeout)
	for {
		c, err := s.rt.Inspect(s.ctx(t), id)
		if err != nil {
			t.Fatalf("Inspect(%s): %v", id, err)
		}
		if ok(c) {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s: not %s after %v: %+v", c.Name, what, s.opts.Timeout, c)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *suite) waitState(t *testing.T, id string, state container.State) container.Container {
	t.Helper()
	return s.wait(t, id, string(state), func(c container.Container) bool { return c.State == state })
}

// logs returns a container's whole log output.
func (s *suite) logs(t *testing.T, id string, opts container.LogOptions) string {
	t.Helper()
	rc, err := s.rt.Logs(s.ctx(t), id, opts)
	if err != nil {
		t.Fatalf("Logs(%s): %v", id, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading logs of %s: %v", id, err)
	}
	return string(b)
}

// waitLogs polls the logs until they contain want.
func (s *suite) waitLogs(t *testing.T, id, want string) string {
	t.Helper()
	deadline := time.Now().Add(s.opts.Timeout)
	for {
		got := s.logs(t, id, container.LogOptions{Tail: -1})
		if strings.Contains(got, want) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs of %s do not contain %q after %v: %q", id, want, s.opts.Timeout, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
