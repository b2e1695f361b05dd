package docker

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/docker/docker/api/types"
	dc "github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/drover-ci/drover/cluster/container"
)

// ExecStream runs cmd in a running container over the engine's hijacked exec connection, as
// cri-dockerd's native exec handler does: stdin is copied in (and the write side closed at its
// end), the output copied out (demultiplexed unless there is a terminal), terminal sizes
// passed on with ContainerExecResize, and the exit code read once the output has ended.
func (r *Runtime) ExecStream(ctx context.Context, id string, cmd []string, s container.Streams) (int, error) {
	cfg := types.ExecConfig{Cmd: cmd, Tty: s.TTY, AttachStdin: s.Stdin != nil, AttachStdout: s.Stdout != nil, AttachStderr: s.Stderr != nil}
	ex, err := r.cli.ContainerExecCreate(ctx, id, cfg)
	if err != nil {
		return 0, wrap(err, "exec in", id)
	}
	att, err := r.cli.ContainerExecAttach(ctx, ex.ID, types.ExecStartCheck{Tty: s.TTY})
	if err != nil {
		return 0, wrap(err, "exec in", id)
	}
	defer att.Close()
	stopResize := r.forwardResize(ctx, s.Resize, func(ctx context.Context, o dc.ResizeOptions) error {
		return r.cli.ContainerExecResize(ctx, ex.ID, o)
	})
	defer stopResize()
	if err := copyStreams(ctx, &att, s); err != nil {
		return 0, fmt.Errorf("docker: exec %q in %s: %w", cmd, id, err)
	}
	code, err := r.execExitCode(ctx, ex.ID)
	if err != nil {
		return 0, fmt.Errorf("docker: exec %q in %s: %w", cmd, id, err)
	}
	return code, nil
}

// Attach connects s to the container's own streams (ContainerAttach with Stream) until its
// output ends. The container's stdin is attached only when s has one; the engine ignores it
// unless the container was created with an open stdin.
func (r *Runtime) Attach(ctx context.Context, id string, s container.Streams) error {
	// The container's own terminal decides whether its output is one raw stream, whatever the
	// client asked for.
	tty, err := r.hasTTY(ctx, id)
	if err != nil {
		return err
	}
	s.TTY = tty
	att, err := r.cli.ContainerAttach(ctx, id, dc.AttachOptions{Stream: true, Stdin: s.Stdin != nil, Stdout: s.Stdout != nil, Stderr: s.Stderr != nil})
	if err != nil {
		return wrap(err, "attach to", id)
	}
	defer att.Close()
	stopResize := r.forwardResize(ctx, s.Resize, func(ctx context.Context, o dc.ResizeOptions) error {
		return r.cli.ContainerResize(ctx, id, o)
	})
	defer stopResize()
	if err := copyStreams(ctx, &att, s); err != nil {
		return fmt.Errorf("docker: attach to %s: %w", id, err)
	}
	return nil
}

// copyStreams copies stdin into a hijacked connection (closing its write side at stdin's end)
// and its output out until the output ends or ctx ends.
func copyStreams(ctx context.Context, att *types.HijackedResponse, s container.Streams) error {
	if s.Stdin != nil {
		go func() {
			_, _ = io.Copy(att.Conn, s.Stdin)
			_ = att.CloseWrite()
		}()
	}
	done := make(chan error, 1)
	go func() {
		stdout, stderr := orDiscard(s.Stdout), orDiscard(s.Stderr)
		var err error
		if s.TTY {
			_, err = io.Copy(stdout, att.Reader)
		} else {
			_, err = stdcopy.StdCopy(stdout, stderr, att.Reader)
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		att.Close()
		<-done
		return ctx.Err()
	}
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// forwardResize passes each size from sizes to resize until the returned stop is called.
func (r *Runtime) forwardResize(ctx context.Context, sizes <-chan container.TerminalSize, resize func(context.Context, dc.ResizeOptions) error) (stop func()) {
	if sizes == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case size, ok := <-sizes:
				if !ok {
					return
				}
				if size.Width == 0 || size.Height == 0 {
					continue
				}
				// A resize racing the end of the process fails; nothing to do about it.
				_ = resize(ctx, dc.ResizeOptions{Width: uint(size.Width), Height: uint(size.Height)})
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}
