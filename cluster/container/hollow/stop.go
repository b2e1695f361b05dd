package hollow

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cluster/container"
)

var netipZero netip.Addr

// Stop sends SIGTERM and waits until the container exits: at once (exit code 143, or the
// script's TermExitCode), after the script's StopAfter if shorter than grace, or at the grace
// deadline with 137 (SIGKILL) when it ignores SIGTERM or takes longer. Waiting follows the
// runtime's clock; if ctx ends first Stop returns ctx's error and the kill still happens at
// the deadline. Stopping a container that is not running does nothing.
func (r *Runtime) Stop(ctx context.Context, id string, grace time.Duration) error {
	now := r.clock.Now()
	r.mu.Lock()
	c, err := r.lookup(id)
	if err != nil {
		r.mu.Unlock()
		return fmt.Errorf("stop: %w", err)
	}
	if c.state != container.StateRunning {
		r.mu.Unlock()
		return nil
	}
	gen := c.gen
	for _, l := range c.script.TermLogs {
		c.logs = append(c.logs, logLine{at: now, text: l})
	}
	r.changed(c)
	delay, code := stopPlan(c.script, grace)
	at := now.Add(delay)
	var stale []clock.Timer
	schedule := false
	switch {
	case delay <= 0:
		r.finish(c, now, code, false)
		stale = c.takeTimers()
	case c.stopAt.IsZero() || at.Before(c.stopAt):
		c.stopAt, schedule = at, true
	}
	r.mu.Unlock()
	stopTimers(stale)
	if schedule {
		t := r.clock.AfterFunc(delay, func() { r.exit(c, gen, at, code, false) })
		r.keepTimer(c, gen, 1, t)
	}
	return r.waitExit(ctx, c, gen)
}

// stopPlan says how long after SIGTERM a container with script s exits, and with which code.
func stopPlan(s *Script, grace time.Duration) (time.Duration, int) {
	switch {
	case s.IgnoreSIGTERM:
		return max(grace, 0), 137
	case s.StopAfter <= 0:
		return 0, s.termExitCode()
	case s.StopAfter < grace:
		return s.StopAfter, s.termExitCode()
	default:
		return max(grace, 0), 137
	}
}

// waitExit waits until run gen of c is over or ctx ends.
func (r *Runtime) waitExit(ctx context.Context, c *ctr, gen uint32) error {
	for {
		r.mu.Lock()
		if c.gen != gen || c.state != container.StateRunning || c.removed {
			r.mu.Unlock()
			return nil
		}
		ch := c.wait()
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return fmt.Errorf("stop %s: %w", c.name, ctx.Err())
		case <-ch:
		}
	}
}

// Remove deletes a container, killing it first if it runs (exit code 137).
func (r *Runtime) Remove(ctx context.Context, id string) error {
	now := r.clock.Now()
	r.mu.Lock()
	c, err := r.lookup(id)
	if err != nil {
		r.mu.Unlock()
		return fmt.Errorf("remove: %w", err)
	}
	if c.state == container.StateRunning {
		r.finish(c, now, 137, false)
	}
	c.removed = true
	stale := c.takeTimers()
	delete(r.byID, c.id)
	delete(r.byName, c.name)
	r.changed(c)
	r.mu.Unlock()
	stopTimers(stale)
	return nil
}
