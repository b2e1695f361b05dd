package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/docker/docker/api/types"
	dc "github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/drover-ci/drover/cluster/container"
)

// Logs streams a container's stdout and stderr, demultiplexed into one stream. With Follow
// the stream ends when the container exits or ctx ends.
func (r *Runtime) Logs(ctx context.Context, id string, opts container.LogOptions) (io.ReadCloser, error) {
	o := dc.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: opts.Follow, Timestamps: opts.Timestamps, Tail: "all"}
	if opts.Tail >= 0 {
		o.Tail = strconv.Itoa(opts.Tail)
	}
	if !opts.Since.IsZero() {
		o.Since = fmt.Sprintf("%d.%09d", opts.Since.Unix(), opts.Since.Nanosecond())
	}
	tty, err := r.hasTTY(ctx, id)
	if err != nil {
		return nil, err
	}
	rc, err := r.cli.ContainerLogs(ctx, id, o)
	if err != nil {
		return nil, wrap(err, "logs", id)
	}
	if tty { // a terminal's output is one raw stream
		return rc, nil
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, rc)
		pw.CloseWithError(err)
	}()
	return &demuxed{PipeReader: pr, src: rc}, nil
}

// hasTTY reports whether container id was created with a terminal.
func (r *Runtime) hasTTY(ctx context.Context, id string) (bool, error) {
	j, err := r.cli.ContainerInspect(ctx, id)
	if err != nil {
		return false, wrap(err, "inspect", id)
	}
	return j.Config != nil && j.Config.Tty, nil
}

// demuxed is the read side of a demultiplexed log stream; Close closes the engine's stream.
type demuxed struct {
	*io.PipeReader
	src io.Closer
}

func (d *demuxed) Close() error {
	d.PipeReader.Close()
	return d.src.Close()
}

// Exec runs cmd in a running container and returns its exit code and its stdout and stderr
// as they interleaved. When timeout passes first, Exec returns an error wrapping
// context.DeadlineExceeded; the engine cannot kill an exec, so the process may go on.
func (r *Runtime) Exec(ctx context.Context, id string, cmd []string, timeout time.Duration) (container.ExecResult, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	ex, err := r.cli.ContainerExecCreate(ctx, id, types.ExecConfig{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return container.ExecResult{}, wrap(ctxErr(ctx, err), "exec in", id)
	}
	att, err := r.cli.ContainerExecAttach(ctx, ex.ID, types.ExecStartCheck{})
	if err != nil {
		return container.ExecResult{}, wrap(ctxErr(ctx, err), "exec in", id)
	}
	defer att.Close()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(&out, &out, att.Reader)
		done <- err
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		att.Close()
		<-done
		return container.ExecResult{Output: out.Bytes()}, fmt.Errorf("docker: exec %q in %s: %w", cmd, id, ctx.Err())
	}
	if err != nil {
		return container.ExecResult{}, fmt.Errorf("docker: exec %q in %s: reading output: %w", cmd, id, err)
	}
	code, err := r.execExitCode(ctx, ex.ID)
	if err != nil {
		return container.ExecResult{}, fmt.Errorf("docker: exec %q in %s: %w", cmd, id, err)
	}
	return container.ExecResult{ExitCode: code, Output: out.Bytes()}, nil
}

// execExitCode waits for the engine to record the end of an exec whose output has ended.
func (r *Runtime) execExitCode(ctx context.Context, execID string) (int, error) {
	for {
		in, err := r.cli.ContainerExecInspect(ctx, execID)
		if err != nil {
			return 0, ctxErr(ctx, err)
		}
		if !in.Running {
			return in.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// ctxErr prefers the context's error (deadline, cancel) over the transport's account of it.
func ctxErr(ctx context.Context, err error) error {
	if ce := ctx.Err(); ce != nil && !errors.Is(err, ce) {
		return fmt.Errorf("%w (%w)", ce, err)
	}
	return err
}

func isNotFound(err error) bool { return errors.Is(err, container.ErrNotFound) }
