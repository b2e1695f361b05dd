package hollow

import (
	"context"
	"fmt"
	"time"

	"github.com/drover-ci/drover/cluster/container"
)

// Usage is the simulated resource use of a hollow container.
type Usage struct {
	NanoCores   uint64 // CPU: 1e9 is one core busy
	MemoryBytes uint64 // working set (and usage)
}

// defaultMemory is the working set of a container nothing else sets: a small process.
const defaultMemory = 2 << 20

// usage is a container's usage state. Guarded by Runtime.mu.
type usage struct {
	set      *Usage    // SetUsage's override
	cpuTotal uint64    // CPU nanoseconds used up to last
	last     time.Time // when cpuTotal was last brought up to date
}

// SetUsage makes the container id (ID or name) use u from now on (until the next SetUsage),
// whatever its script or environment say; Options.Usage still wins.
func (r *Runtime) SetUsage(id string, u Usage) error {
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.lookup(id)
	if err != nil {
		return fmt.Errorf("set usage: %w", err)
	}
	r.accrue(c, now, r.rateOf(c, nil))
	c.usage.set = &u
	return nil
}

// Stats reports the simulated usage: the CPU time accrued at the current rate since the
// last sample (rates change only between samples) and the memory working set. The rate and
// memory come from Options.Usage, else SetUsage, else the HOLLOW_CPU and HOLLOW_MEMORY
// variables or the image's script, else 0 cores and 2 MiB.
func (r *Runtime) Stats(ctx context.Context, id string) (container.Stats, error) {
	now := r.clock.Now()
	r.mu.Lock()
	c, err := r.lookup(id)
	if err != nil {
		r.mu.Unlock()
		return container.Stats{}, fmt.Errorf("stats: %w", err)
	}
	if c.state != container.StateRunning {
		r.mu.Unlock()
		return container.Stats{}, fmt.Errorf("stats %s: %w", c.name, container.ErrNotRunning)
	}
	snap, run := r.snapshot(c), c.gen
	r.mu.Unlock()
	var hook *Usage
	if r.usageFn != nil { // called without the lock: it is the test's code
		if u, ok := r.usageFn(snap); ok {
			hook = &u
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.state != container.StateRunning || c.gen != run {
		return container.Stats{}, fmt.Errorf("stats %s: %w", c.name, container.ErrNotRunning)
	}
	u := r.rateOf(c, hook)
	r.accrue(c, now, u)
	return container.Stats{Time: now, CPUUsageNanoSeconds: c.usage.cpuTotal,
		MemoryUsageBytes: u.MemoryBytes, MemoryWorkingSetBytes: u.MemoryBytes}, nil
}

// rateOf is c's current usage: hook, else SetUsage's, else the script's. Caller holds r.mu.
func (r *Runtime) rateOf(c *ctr, hook *Usage) Usage {
	switch {
	case hook != nil:
		return *hook
	case c.usage.set != nil:
		return *c.usage.set
	}
	u := Usage{NanoCores: c.script.CPUNanoCores, MemoryBytes: c.script.MemoryBytes}
	if u.MemoryBytes == 0 {
		u.MemoryBytes = defaultMemory
	}
	return u
}

// accrue adds the CPU time used at rate u since the last update. Caller holds r.mu.
func (r *Runtime) accrue(c *ctr, now time.Time, u Usage) {
	if c.usage.last.Before(c.started) {
		c.usage.cpuTotal, c.usage.last = 0, c.started // a new run counts from its start
	}
	if d := now.Sub(c.usage.last); d > 0 && c.state == container.StateRunning {
		c.usage.cpuTotal += uint64(float64(u.NanoCores) * d.Seconds())
	}
	if now.After(c.usage.last) {
		c.usage.last = now
	}
}
