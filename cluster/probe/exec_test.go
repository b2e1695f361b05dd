package probe

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestExec(t *testing.T) {
	var gotCmd []string
	runner := func(code int, out string, err error) RunFunc {
		return func(ctx context.Context, cmd []string) (int, []byte, error) {
			gotCmd = cmd
			return code, []byte(out), err
		}
	}
	cmd := []string{"cat", "/tmp/healthy"}
	tests := []struct {
		name    string
		run     RunFunc
		want    Result
		message string
		err     bool
	}{
		{"exit 0", runner(0, "ok\n", nil), Success, "ok\n", false},
		{"exit 1", runner(1, "no such file\n", nil), Failure, "no such file\n", false},
		{"runtime error", runner(0, "", errors.New("container is not running")), Unknown, "", true},
		{"deadline from runner", runner(0, "", context.DeadlineExceeded), Failure, `command "cat /tmp/healthy" timed out`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, msg, err := Exec(context.Background(), tc.run, cmd, time.Second)
			if res != tc.want || msg != tc.message || (err != nil) != tc.err {
				t.Errorf("Exec = %v, %q, %v; want %v, %q, error %v", res, msg, err, tc.want, tc.message, tc.err)
			}
			if diff := cmp.Diff(cmd, gotCmd); diff != "" {
				t.Errorf("command (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExecTimeoutWhenRunnerIgnoresContext(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	hang := func(ctx context.Context, cmd []string) (int, []byte, error) {
		<-release
		return 0, nil, nil
	}
	start := time.Now()
	res, msg, err := Exec(context.Background(), hang, []string{"sleep", "60"}, 100*time.Millisecond)
	if res != Failure || err != nil || msg != `command "sleep 60" timed out` {
		t.Errorf("Exec = %v, %q, %v; want failure, timed out", res, msg, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Exec with a 100ms timeout took %v", d)
	}
}

func TestExecOutputLimit(t *testing.T) {
	big := func(ctx context.Context, cmd []string) (int, []byte, error) {
		return 0, []byte(strings.Repeat("y", 2*maxOutput)), nil
	}
	if res, msg, _ := Exec(context.Background(), big, []string{"yes"}, time.Second); res != Success || len(msg) != maxOutput {
		t.Errorf("Exec = %v with %d bytes; want success with %d", res, len(msg), maxOutput)
	}
}
