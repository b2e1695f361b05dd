package hollow

import (
	"bufio"
	"context"
	"io"
	"testing"
	"time"

	"github.com/drover-ci/drover/cluster/container"
)

func readLogs(t *testing.T, r *Runtime, id string, opts container.LogOptions) string {
	t.Helper()
	rc, err := r.Logs(context.Background(), id, opts)
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLogs(t *testing.T) {
	r, fc := newFake(t, Options{Scripts: map[string]Script{"app": {Logs: []string{"one", "two"}}}})
	id := run(t, r, "c", "app")
	fc.Step(10 * time.Second)
	if err := r.WriteLog("c", "three"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts container.LogOptions
		want string
	}{
		{"all", container.LogOptions{Tail: -1}, "one\ntwo\nthree\n"},
		{"tail 1", container.LogOptions{Tail: 1}, "three\n"},
		{"tail 0", container.LogOptions{}, ""},
		{"since", container.LogOptions{Tail: -1, Since: t0.Add(5 * time.Second)}, "three\n"},
		{"timestamps", container.LogOptions{Tail: 2, Timestamps: true},
			"2025-03-01T12:00:00Z two\n2025-03-01T12:00:10Z three\n"},
	}
	for _, tc := range tests {
		if got := readLogs(t, r, id, tc.opts); got != tc.want {
			t.Errorf("%s: logs %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestLogsFollow(t *testing.T) {
	r, fc := newFake(t, Options{})
	id := run(t, r, "c", "app", "HOLLOW_LOGS=first|second", "HOLLOW_RUN_FOR=1m")
	rc, err := r.Logs(context.Background(), id, container.LogOptions{Tail: 1, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	br := bufio.NewReader(rc)
	line := func() string {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading followed logs: %q, %v", l, err)
		}
		return l
	}
	if l := line(); l != "second\n" {
		t.Errorf("first followed line %q", l)
	}
	r.WriteLog(id, "later")
	if l := line(); l != "later\n" {
		t.Errorf("appended line %q", l)
	}
	fc.Step(time.Minute)
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Errorf("after exit: %q, %v; want EOF", rest, err)
	}
}

func TestLogsFollowEnds(t *testing.T) {
	r, _ := newFake(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	removed := run(t, r, "removed", "app")
	cancelled := run(t, r, "cancelled", "app")
	follow := func(ctx context.Context, id string) <-chan error {
		rc, err := r.Logs(ctx, id, container.LogOptions{Tail: -1, Follow: true})
		if err != nil {
			t.Fatal(err)
		}
		ch := make(chan error, 1)
		go func() { _, err := io.ReadAll(rc); ch <- err }()
		return ch
	}
	a, b := follow(context.Background(), removed), follow(ctx, cancelled)
	if err := r.Remove(context.Background(), removed); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, a); err != nil {
		t.Errorf("follow of a removed container: %v, want EOF", err)
	}
	cancel()
	if err := recv(t, b); err == nil {
		t.Errorf("follow after cancel ended without an error")
	}
}
