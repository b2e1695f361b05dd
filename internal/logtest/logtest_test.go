package logtest

import (
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps what is logged through it.
type recorder struct {
	testing.TB
	lines    []string
	cleanups []func()
}

func (r *recorder) Log(args ...any) {
	for _, a := range args {
		r.lines = append(r.lines, a.(string))
	}
}

func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

// TestNew: records of every level reach t.Log, one line each, until the test ends.
func TestNew(t *testing.T) {
	r := &recorder{TB: t}
	log := New(r).With("controller", "test")
	log.Debug("looked", "key", "a/b")
	log.Warn("sync failed", "err", "boom")
	if len(r.lines) != 2 {
		t.Fatalf("logged %q; want 2 lines", r.lines)
	}
	for _, want := range []string{"level=DEBUG msg=looked controller=test key=a/b", "level=WARN msg=\"sync failed\" controller=test err=boom"} {
		if !strings.Contains(strings.Join(r.lines, "\n"), want) {
			t.Errorf("logged %q; want a line with %q", r.lines, want)
		}
	}
	for _, f := range r.cleanups {
		f()
	}
	log.Error("after the test")
	if len(r.lines) != 2 {
		t.Errorf("logged %q after the test ended", r.lines[2:])
	}
}
