package hollow

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cluster/container"
)

// ctr is one simulated container. Guarded by Runtime.mu.
type ctr struct {
	id, name, image string
	labels          map[string]string
	netMode         string // a network name, "container:<full id>", "host" or "none"
	reqIP           string
	script          *Script

	state     container.State
	exitCode  int
	oom       bool
	errMsg    string
	created   time.Time
	started   time.Time
	finished  time.Time
	ip        netip.Addr
	ipNet     *network
	gen       uint32         // incremented by each Start; timers of older runs are ignored
	stopAt    time.Time      // deadline of the pending stop (zero: none)
	timers    [2]clock.Timer // run-for and stop timers of the current run
	removed   bool
	unhealthy bool // httpGet probes fail
	logs      []logLine
	exec      map[string]container.ExecResult // SetExecResult overrides
	changed   chan struct{}                   // closed (and reset) on every change; made lazily
	usage     usage
}

type logLine struct {
	at   time.Time
	text string
}

// changed records a change of c: its waiters wake and the runtime's Version moves on. Caller
// holds r.mu.
func (r *Runtime) changed(c *ctr) {
	r.version++
	c.notify()
}

// notify wakes everyone waiting for a change of c.
func (c *ctr) notify() {
	if c.changed != nil {
		close(c.changed)
		c.changed = nil
	}
}

// wait returns a channel closed at c's next change.
func (c *ctr) wait() <-chan struct{} {
	if c.changed == nil {
		c.changed = make(chan struct{})
	}
	return c.changed
}

// takeTimers removes c's timers so the caller can stop them once r.mu is released.
func (c *ctr) takeTimers() []clock.Timer {
	var out []clock.Timer
	for i, t := range c.timers {
		if t != nil {
			out = append(out, t)
			c.timers[i] = nil
		}
	}
	return out
}

func stopTimers(ts []clock.Timer) {
	for _, t := range ts {
		t.Stop()
	}
}

// snapshot returns c as the runtime reports it. Caller holds r.mu.
func (r *Runtime) snapshot(c *ctr) container.Container {
	out := container.Container{
		ID: c.id, Name: c.name, Image: c.image, ImageID: imageID(c.image),
		Labels: cloneLabels(c.labels), State: c.state, ExitCode: c.exitCode, OOMKilled: c.oom,
		Error: c.errMsg, CreatedAt: c.created, StartedAt: c.started, FinishedAt: c.finished,
	}
	if c.state == container.StateRunning {
		out.IP = r.ipOf(c)
	}
	return out
}

// ipOf returns c's address, or that of the container whose namespace c joined.
func (r *Runtime) ipOf(c *ctr) string {
	if ref, ok := joinTarget(c.netMode); ok {
		if t := r.byID[ref]; t != nil && t.state == container.StateRunning && t.ip.IsValid() {
			return t.ip.String()
		}
		return ""
	}
	if c.ip.IsValid() {
		return c.ip.String()
	}
	return ""
}

// lookup finds a container by ID, name (with or without the leading "/") or unique ID prefix.
// Caller holds r.mu.
func (r *Runtime) lookup(ref string) (*ctr, error) {
	if c := r.byID[ref]; c != nil {
		return c, nil
	}
	if c := r.byName[strings.TrimPrefix(ref, "/")]; c != nil {
		return c, nil
	}
	var found *ctr
	if ref != "" {
		for id, c := range r.byID {
			if strings.HasPrefix(id, ref) {
				if found != nil {
					return nil, fmt.Errorf("container %q: ambiguous ID prefix", ref)
				}
				found = c
			}
		}
	}
	if found == nil {
		return nil, fmt.Errorf("container %q: %w", ref, container.ErrNotFound)
	}
	return found, nil
}

func newID() string {
	return fmt.Sprintf("%016x%016x%016x%016x", rand.Uint64(), rand.Uint64(), rand.Uint64(), rand.Uint64())
}

func cloneLabels(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
