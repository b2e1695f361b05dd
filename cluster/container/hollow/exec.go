package hollow

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/drover-ci/drover/cluster/container"
)

// Exec answers cmd in a running container without running anything: from SetExecResult, else
// the script's Exec map, else the emulated test image, else ExecExitCode with no output.
// A command that runs for a while (the exit test image's "exec CODE SLEEP") waits on the
// runtime's clock and fails with an error wrapping context.DeadlineExceeded past timeout.
func (r *Runtime) Exec(ctx context.Context, id string, cmd []string, timeout time.Duration) (container.ExecResult, error) {
	res, wait, err := r.answerExec(id, cmd)
	if err != nil || wait <= 0 {
		return res, err
	}
	d := wait
	if timeout > 0 && timeout < wait {
		d = timeout
	}
	t := r.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return container.ExecResult{}, fmt.Errorf("exec %q: %w", strings.Join(cmd, " "), ctx.Err())
	case <-t.C():
	}
	if d < wait {
		return container.ExecResult{}, fmt.Errorf("exec %q: timed out after %v: %w", strings.Join(cmd, " "), timeout, context.DeadlineExceeded)
	}
	return res, nil
}

func (r *Runtime) answerExec(id string, cmd []string) (container.ExecResult, time.Duration, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.lookup(id)
	if err != nil {
		return container.ExecResult{}, 0, fmt.Errorf("exec: %w", err)
	}
	if c.state != container.StateRunning {
		return container.ExecResult{}, 0, fmt.Errorf("exec in %s: container is not running", c.name)
	}
	key := strings.Join(cmd, " ")
	if res, ok := c.exec[key]; ok {
		return copyResult(res), 0, nil
	}
	if res, ok := c.script.Exec[key]; ok {
		return copyResult(res), 0, nil
	}
	if c.script.execFn != nil {
		if res, wait, ok := c.script.execFn(cmd, !c.unhealthy); ok {
			return res, wait, nil
		}
	}
	return container.ExecResult{ExitCode: c.script.ExecExitCode}, 0, nil
}

func copyResult(res container.ExecResult) container.ExecResult {
	res.Output = append([]byte(nil), res.Output...)
	return res
}

// SetExecResult makes later Execs of cmd in the container id (ID or name) exit with code and
// print output, e.g. to switch an exec probe's answer at run time.
func (r *Runtime) SetExecResult(id string, cmd []string, code int, output string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.lookup(id)
	if err != nil {
		return fmt.Errorf("set exec result: %w", err)
	}
	if c.exec == nil {
		c.exec = map[string]container.ExecResult{}
	}
	c.exec[strings.Join(cmd, " ")] = container.ExecResult{ExitCode: code, Output: []byte(output)}
	return nil
}

// SetHTTPHealth makes httpGet probes of the container id (ID or name) through Prober succeed
// (ok) or fail with status 500; the testserver emulation's "probe" exec mode follows it too.
func (r *Runtime) SetHTTPHealth(id string, ok bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.lookup(id)
	if err != nil {
		return fmt.Errorf("set http health: %w", err)
	}
	c.unhealthy = !ok
	return nil
}
