// Package hollow is a container.Runtime that simulates containers in memory, Kubemark's hollow
// node idea: containers go created → running → exited as a Script says (chosen by image, then
// overridden by HOLLOW_* environment variables), without processes, images or namespaces. It
// serves unit tests (with a fake clock) and the hollow-node scale benchmark: a container costs
// a few hundred bytes and no goroutine; exits and kills are clock timers.
//
// Concurrency: the clock is never called with the runtime's lock held, and timer callbacks
// never call the clock, so a fake clock that runs callbacks under its own lock (as
// k8s.io/utils/clock/testing.FakeClock does) cannot deadlock with the runtime.
package hollow

import (
	"context"
	"runtime"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cluster/container"
)

// Options configures a hollow Runtime. The zero value is usable.
type Options struct {
	// Clock drives run times, grace periods and pull delays (default: the real clock).
	Clock clock.WithDelayedExecution
	// Scripts gives the behaviour of containers by image (as written in the Spec, or
	// normalized: "busybox" matches "docker.io/library/busybox:latest"). Images without a
	// script run until stopped.
	Scripts map[string]Script
	// MissingImages are absent until pulled; UnpullableImages are absent and their Pull
	// fails with container.ErrImageNotFound. Every other image is present.
	MissingImages    []string
	UnpullableImages []string
	// PullDelay is how long a Pull takes (on Clock).
	PullDelay time.Duration
	// Info overrides the defaults of Info field by field (non-zero fields win).
	Info container.Info
	// Usage, when set, gives the simulated usage of every running container Stats samples
	// (ok false: the container's own, see Stats). It is called without the runtime's lock.
	Usage func(c container.Container) (u Usage, ok bool)
}

// Runtime is the hollow container.Runtime. Create it with New.
type Runtime struct {
	clock     clock.WithDelayedExecution
	scripts   map[string]*Script
	pullDelay time.Duration
	info      container.Info
	usageFn   func(container.Container) (Usage, bool)

	mu       sync.Mutex
	byID     map[string]*ctr
	byName   map[string]*ctr
	images   map[string]imageState // images that are not simply present
	networks map[string]*network
	seq      uint64
	// version moves on with every change of a container (Version).
	version uint64
}

var (
	_ container.Runtime   = (*Runtime)(nil)
	_ container.Versioned = (*Runtime)(nil)
)

// Version moves on with every change of a container: created, started, its log or state
// changed, exited, removed.
func (r *Runtime) Version() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.version
}

// New returns an empty hollow runtime with the default "bridge" network (172.17.0.0/16).
func New(opts Options) *Runtime {
	r := &Runtime{
		clock:     opts.Clock,
		scripts:   make(map[string]*Script, len(opts.Scripts)),
		pullDelay: opts.PullDelay,
		info:      defaultInfo(opts.Info),
		usageFn:   opts.Usage,
		byID:      map[string]*ctr{},
		byName:    map[string]*ctr{},
		images:    map[string]imageState{},
		networks:  map[string]*network{},
	}
	if r.clock == nil {
		r.clock = clock.RealClock{}
	}
	for img, s := range opts.Scripts {
		s := s
		r.scripts[normalizeImage(img)] = &s
	}
	for _, img := range opts.MissingImages {
		r.images[normalizeImage(img)] = imageMissing
	}
	for _, img := range opts.UnpullableImages {
		r.images[normalizeImage(img)] = imageUnpullable
	}
	if _, err := r.addNetwork("bridge", "172.17.0.0/16"); err != nil {
		panic(err) // constant subnet
	}
	return r
}

// Info returns the simulated host: 4 CPUs, 8 GiB, engine "hollow", unless overridden.
func (r *Runtime) Info(ctx context.Context) (container.Info, error) {
	return r.info, nil
}

func defaultInfo(o container.Info) container.Info {
	i := container.Info{
		EngineVersion: "20.10.24-hollow", OS: "hollow", KernelVersion: "hollow",
		Architecture: runtime.GOARCH, CPUs: 4, MemoryBytes: 8 << 30, Hostname: "hollow",
		RuntimeName: "hollow", CgroupDriver: "cgroupfs", OperatingSystem: "linux",
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&i.EngineVersion, o.EngineVersion)
	set(&i.OS, o.OS)
	set(&i.KernelVersion, o.KernelVersion)
	set(&i.Architecture, o.Architecture)
	set(&i.Hostname, o.Hostname)
	set(&i.RuntimeName, o.RuntimeName)
	set(&i.CgroupDriver, o.CgroupDriver)
	set(&i.OperatingSystem, o.OperatingSystem)
	if o.CPUs > 0 {
		i.CPUs = o.CPUs
	}
	if o.MemoryBytes > 0 {
		i.MemoryBytes = o.MemoryBytes
	}
	return i
}
