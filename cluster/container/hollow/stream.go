package hollow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"

	"github.com/drover-ci/drover/cluster/container"
)

// ExecStream answers cmd as Exec does and writes its output to s.Stdout. The emulated exit
// "cat" with no arguments copies s.Stdin to s.Stdout; any other command's stdin is read and
// dropped.
func (r *Runtime) ExecStream(ctx context.Context, id string, cmd []string, s container.Streams) (int, error) {
	if len(cmd) == 1 && path.Base(cmd[0]) == "cat" {
		if _, _, err := r.answerExec(id, cmd); err != nil {
			return 0, err
		}
		if s.Stdin != nil && s.Stdout != nil {
			if _, err := io.Copy(s.Stdout, s.Stdin); err != nil {
				return 0, fmt.Errorf("exec %q: %w", cmd, err)
			}
		}
		return 0, nil
	}
	res, err := r.Exec(ctx, id, cmd, 0)
	if err != nil {
		return 0, err
	}
	if s.Stdin != nil {
		go func() { _, _ = io.Copy(io.Discard, s.Stdin) }()
	}
	if s.Stdout != nil {
		if _, err := s.Stdout.Write(res.Output); err != nil {
			return 0, fmt.Errorf("exec %q: %w", cmd, err)
		}
	}
	return res.ExitCode, nil
}

// Attach follows the container's log lines written from now on into s.Stdout until the
// container exits or ctx ends.
func (r *Runtime) Attach(ctx context.Context, id string, s container.Streams) error {
	c, err := r.Inspect(ctx, id)
	if err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	if c.State != container.StateRunning {
		return fmt.Errorf("attach to %s: container is not running", c.Name)
	}
	rc, err := r.Logs(ctx, id, container.LogOptions{Follow: true, Tail: 0})
	if err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	defer rc.Close()
	if _, err := io.Copy(orDiscard(s.Stdout), rc); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("attach to %s: %w", c.Name, err)
	}
	return nil
}

// PortForward fails: hollow containers move no traffic.
func (r *Runtime) PortForward(ctx context.Context, id string, port int, stream io.ReadWriteCloser) error {
	defer stream.Close()
	if _, err := r.Inspect(ctx, id); err != nil {
		return fmt.Errorf("port-forward: %w", err)
	}
	return fmt.Errorf("port-forward to port %d of %s: hollow containers move no traffic", port, id)
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
