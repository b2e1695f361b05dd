package probe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// RunFunc runs cmd in the probed container and returns its exit code and combined output.
type RunFunc func(ctx context.Context, cmd []string) (int, []byte, error)

type execOutcome struct {
	code int
	out  []byte
	err  error
}

// Exec runs cmd through run with a deadline of timeout (<= 0: none). Exit code 0 is Success
// and non-zero Failure, both with the output (at most 10 KiB) as message; exceeding the
// timeout is Failure with the message `command "…" timed out`, even when run ignores its
// context. Other errors of run give Unknown and the error.
func Exec(ctx context.Context, run RunFunc, cmd []string, timeout time.Duration) (Result, string, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	done := make(chan execOutcome, 1)
	go func() {
		code, out, err := run(ctx, cmd)
		done <- execOutcome{code, out, err}
	}()
	var o execOutcome
	select {
	case o = <-done:
	case <-ctx.Done():
		o = execOutcome{err: ctx.Err()}
	}
	if o.err != nil {
		if errors.Is(o.err, context.DeadlineExceeded) {
			return Failure, fmt.Sprintf("command %q timed out", strings.Join(cmd, " ")), nil
		}
		return Unknown, "", fmt.Errorf("exec probe: %w", o.err)
	}
	out := o.out
	if len(out) > maxOutput {
		out = out[:maxOutput]
	}
	if o.code != 0 {
		return Failure, string(out), nil
	}
	return Success, string(out), nil
}
