package hollow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cluster/container"
)

// Start runs a created or exited container: it takes an address on its network, writes its
// script's log lines and, if the script exits, arranges the exit (at once for a zero RunFor).
// Starting a running container does nothing.
func (r *Runtime) Start(ctx context.Context, id string) error {
	now := r.clock.Now()
	r.mu.Lock()
	c, err := r.lookup(id)
	if err != nil {
		r.mu.Unlock()
		return fmt.Errorf("start: %w", err)
	}
	if c.state == container.StateRunning {
		r.mu.Unlock()
		return nil
	}
	stale := c.takeTimers()
	err = r.begin(c, now)
	gen, s, running := c.gen, c.script, c.state == container.StateRunning
	r.mu.Unlock()
	stopTimers(stale)
	if err != nil {
		return fmt.Errorf("start %s: %w", c.name, err)
	}
	if running && s.exits() && s.RunFor > 0 {
		code, oom := s.exitCode()
		at := now.Add(s.RunFor)
		t := r.clock.AfterFunc(s.RunFor, func() { r.exit(c, gen, at, code, oom) })
		r.keepTimer(c, gen, 0, t)
	}
	return nil
}

// begin moves c to running at now (or straight to exited for a script with a zero run
// time). Caller holds r.mu.
func (r *Runtime) begin(c *ctr, now time.Time) error {
	s := c.script
	if s.StartError != "" {
		c.errMsg, c.exitCode = s.StartError, 128
		r.changed(c)
		return errors.New(s.StartError)
	}
	if err := r.attach(c); err != nil {
		c.errMsg = err.Error()
		r.changed(c)
		return err
	}
	c.gen++
	c.state, c.started, c.finished = container.StateRunning, now, time.Time{}
	c.exitCode, c.oom, c.errMsg, c.stopAt = 0, false, "", time.Time{}
	for _, l := range s.Logs {
		c.logs = append(c.logs, logLine{at: now, text: l})
	}
	if s.exits() && s.RunFor <= 0 {
		code, oom := s.exitCode()
		r.finish(c, now, code, oom)
		return nil
	}
	r.changed(c)
	return nil
}

// attach gives c an address on its network, or checks the namespace it joins is running.
// Caller holds r.mu.
func (r *Runtime) attach(c *ctr) error {
	if ref, ok := joinTarget(c.netMode); ok {
		if t := r.byID[ref]; t == nil || t.state != container.StateRunning {
			return fmt.Errorf("cannot join network of a non running container: %s", ref)
		}
		return nil
	}
	if c.netMode == "host" || c.netMode == "none" {
		return nil
	}
	n := r.networks[c.netMode]
	if n == nil {
		return fmt.Errorf("network %s not found", c.netMode)
	}
	ip, err := n.allocate(c.reqIP)
	if err != nil {
		return err
	}
	c.ip, c.ipNet = ip, n
	return nil
}

func (s *Script) exitCode() (int, bool) {
	if s.OOM {
		return 137, true
	}
	return s.ExitCode, false
}

// exit is a timer's callback: the run gen of c ends at at. It must not call the clock.
func (r *Runtime) exit(c *ctr, gen uint32, at time.Time, code int, oom bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.gen != gen || c.state != container.StateRunning {
		return
	}
	r.finish(c, at, code, oom)
}

// finish moves a running c to exited. Caller holds r.mu.
func (r *Runtime) finish(c *ctr, at time.Time, code int, oom bool) {
	c.state, c.finished, c.exitCode, c.oom, c.stopAt = container.StateExited, at, code, oom, time.Time{}
	if c.ipNet != nil {
		c.ipNet.release(c.ip)
	}
	c.ip, c.ipNet = netipZero, nil
	r.changed(c)
}

// keepTimer stores t as c's timer slot i unless the run gen is over, in which case it stops t.
func (r *Runtime) keepTimer(c *ctr, gen uint32, i int, t clock.Timer) {
	r.mu.Lock()
	if c.gen == gen && c.state == container.StateRunning && !c.removed {
		old := c.timers[i]
		c.timers[i] = t
		r.mu.Unlock()
		if old != nil {
			old.Stop()
		}
		return
	}
	r.mu.Unlock()
	t.Stop()
}
