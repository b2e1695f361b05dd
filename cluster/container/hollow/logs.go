package hollow

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/drover-ci/drover/cluster/container"
)

// Logs returns the container's log lines (each ending in "\n", with an RFC 3339 timestamp
// and a space before it when opts.Timestamps), those at or after opts.Since, the last
// opts.Tail of them when opts.Tail >= 0 (LogOptions{} means Tail 0: nothing but followed
// lines; use Tail -1 for all). With opts.Follow and a running container, the reader goes on
// with new lines until the container exits or is removed, ctx ends or the reader is closed.
func (r *Runtime) Logs(ctx context.Context, id string, opts container.LogOptions) (io.ReadCloser, error) {
	r.mu.Lock()
	c, err := r.lookup(id)
	if err != nil {
		r.mu.Unlock()
		return nil, fmt.Errorf("logs: %w", err)
	}
	lines := selectLines(c.logs, opts)
	next := len(c.logs)
	follow := opts.Follow && c.state == container.StateRunning
	gen := c.gen
	r.mu.Unlock()
	var buf bytes.Buffer
	writeLines(&buf, lines, opts.Timestamps)
	if !follow {
		return io.NopCloser(&buf), nil
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go r.follow(ctx, c, gen, next, opts.Timestamps, buf.Bytes(), pw, done)
	return &followReader{PipeReader: pr, done: done}, nil
}

func selectLines(all []logLine, opts container.LogOptions) []logLine {
	lines := all
	if !opts.Since.IsZero() {
		i := 0
		for i < len(lines) && lines[i].at.Before(opts.Since) {
			i++
		}
		lines = lines[i:]
	}
	if opts.Tail >= 0 && opts.Tail < len(lines) {
		lines = lines[len(lines)-opts.Tail:]
	}
	return lines
}

func writeLines(w io.Writer, lines []logLine, timestamps bool) {
	for _, l := range lines {
		if timestamps {
			fmt.Fprintf(w, "%s %s\n", l.at.UTC().Format(time.RFC3339Nano), l.text)
		} else {
			fmt.Fprintf(w, "%s\n", l.text)
		}
	}
}

type followReader struct {
	*io.PipeReader
	done chan struct{}
}

func (f *followReader) Close() error {
	close(f.done)
	return f.PipeReader.Close()
}

// follow feeds a followed log: first, then the lines of run gen of c from index next on.
func (r *Runtime) follow(ctx context.Context, c *ctr, gen uint32, next int, ts bool, first []byte, pw *io.PipeWriter, done <-chan struct{}) {
	if err := writeSome(pw, first); err != nil {
		return
	}
	for {
		r.mu.Lock()
		lines := append([]logLine(nil), c.logs[min(next, len(c.logs)):]...)
		next = len(c.logs)
		over := c.removed || c.gen != gen || c.state != container.StateRunning
		ch := c.wait()
		r.mu.Unlock()
		var buf bytes.Buffer
		writeLines(&buf, lines, ts)
		if err := writeSome(pw, buf.Bytes()); err != nil || over {
			pw.Close()
			return
		}
		select {
		case <-ctx.Done():
			pw.CloseWithError(ctx.Err())
			return
		case <-done:
			return
		case <-ch:
		}
	}
}

// WriteLog appends a line to a running or exited container's log, as its process would.
func (r *Runtime) WriteLog(id, line string) error {
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.lookup(id)
	if err != nil {
		return fmt.Errorf("write log: %w", err)
	}
	c.logs = append(c.logs, logLine{at: now, text: line})
	r.changed(c)
	return nil
}

// writeSome writes b unless it is empty (an empty write to a pipe waits for a reader).
func writeSome(w io.Writer, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	_, err := w.Write(b)
	return err
}
