// Package runtimetest is the conformance suite every container.Runtime passes: docker against
// a real engine with the test images of cluster/container/images, hollow in memory.
//
// The suite drives containers through the behaviour of the test images, which a simulated
// runtime must emulate for the image names in Options:
//
//   - the pause image runs until it is stopped (SIGTERM or SIGINT), then exits 0;
//   - the exit image (binary /exit) prints each argument on its own line to stdout, sleeps
//     $SLEEP seconds ("inf": forever; not a number: prints "bad SLEEP" to stderr and exits 2),
//     and exits $EXIT_CODE. On the stop signal (SIGTERM, or Spec.StopSignal) it prints
//     "signal: SIGTERM" (or "signal: SIGINT") and exits $TERM_CODE (default 0), unless
//     IGNORE_TERM=1, when it keeps running and Stop must kill it (exit code 137). With
//     $ALLOC_MB above the memory limit it is OOM-killed (OOMKilled, exit code 137).
//     Exec: "/exit exec CODE SLEEP WORDS..." prints WORDS one a line, sleeps SLEEP seconds
//     and exits CODE; "/exit env" prints the container's environment, one KEY=value a line;
//   - the server image is cluster/container/images/testserver; without real traffic only its
//     $BURN_CPU (keep that many cores busy) is needed.
//
// Conventions the suite checks: Container.Name has no leading "/"; Remove, Start, Stop,
// Inspect, Logs and Exec of an unknown ID fail with container.ErrNotFound; Create with an
// absent image fails with container.ErrImageNotFound; Stop of an exited container succeeds;
// an Exec that outlives its timeout fails with an error wrapping context.DeadlineExceeded;
// Stats of a container that is not running fails with container.ErrNotRunning;
// LogOptions.Tail < 0 means all lines; Logs with Timestamps prefix each line with an
// RFC 3339 time and a space.
package runtimetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/drover-ci/drover/cluster/container"
)

// Options selects the images and the capabilities the runtime under test has.
type Options struct {
	PauseImage   string // default "drover/pause:1"
	ExitImage    string // default "drover/exit:1"
	ServerImage  string // default "drover/testserver:1"
	MissingImage string // an image that is absent; default "drover/absent:0"
	// ShellImage has cat (scripts/images.sh's drover/shell:1, the default); a simulated
	// runtime emulates cat for it.
	ShellImage string
	// PullImage, when set, is an image Pull must fetch (with progress), and Pull of
	// MissingImage must fail with ErrImageNotFound (so it should name the same registry);
	// empty skips the test.
	PullImage string
	Network   string // default "drover-rttest"
	Subnet    string // default "10.251.0.0/24"
	// Timeout bounds every wait for a state change; default 20 s.
	Timeout time.Duration
	// NoTraffic: the runtime moves no real packets (hollow), so the tests that talk HTTP to
	// containers are skipped.
	NoTraffic bool
	// NoOOM: the runtime cannot enforce memory limits.
	NoOOM bool
	// Serial runs the subtests one after another instead of in parallel.
	Serial bool
}

func (o *Options) defaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.PauseImage, "drover/pause:1")
	def(&o.ExitImage, "drover/exit:1")
	def(&o.ServerImage, "drover/testserver:1")
	def(&o.MissingImage, "drover/absent:0")
	def(&o.ShellImage, "drover/shell:1")
	def(&o.Network, "drover-rttest")
	def(&o.Subnet, "10.251.0.0/24")
	if o.Timeout == 0 {
		o.Timeout = 20 * time.Second
	}
}

// RunLabel is the label the suite puts on every container it creates (value: the run's ID);
// the suite removes them all when it ends.
const RunLabel = "drover.test/run"

// suite is one run's state.
type suite struct {
	rt    container.Runtime
	opts  Options
	runID string
}

// Run runs the conformance suite against rt.
func Run(t *testing.T, rt container.Runtime, opts Options) {
	opts.defaults()
	b := make([]byte, 4)
	rand.Read(b)
	s := &suite{rt: rt, opts: opts, runID: hex.EncodeToString(b)}
	t.Cleanup(func() { s.removeAll(t) })
	tests := []struct {
		name string
		fn   func(*testing.T)
	}{
		{"Info", s.testInfo},
		{"ImagePresent", s.testImagePresent},
		{"CreateStartInspect", s.testCreateStartInspect},
		{"ListByLabels", s.testList},
		{"ExitCodes", s.testExitCodes},
		{"StopHonoursSIGTERM", s.testStopHonoured},
		{"StopKillsAfterGrace", s.testStopKills},
		{"StopSignal", s.testStopSignal},
		{"Restart", s.testRestart},
		{"Remove", s.testRemove},
		{"NotFound", s.testNotFound},
		{"MissingImage", s.testMissingImage},
		{"Pull", s.testPull},
		{"Logs", s.testLogs},
		{"LogsFollow", s.testLogsFollow},
		{"Exec", s.testExec},
		{"ExecTimeout", s.testExecTimeout},
		{"ExecStream", s.testExecStream},
		{"ExecStdin", s.testExecStdin},
		{"Attach", s.testAttach},
		{"PortForward", s.testPortForward},
		{"Network", s.testNetwork},
		{"SharedLocalhost", s.testSharedLocalhost},
		{"OOMKilled", s.testOOM},
		{"Stats", s.testStats},
		{"StatsStopped", s.testStatsStopped},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !opts.Serial {
				t.Parallel()
			}
			tc.fn(t)
		})
	}
}

func (s *suite) removeAll(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
	defer cancel()
	cs, err := s.rt.List(ctx, map[string]string{RunLabel: s.runID})
	if err != nil {
		t.Errorf("cleanup: list: %v", err)
		return
	}
	for _, c := range cs {
		if err := s.rt.Remove(ctx, c.ID); err != nil {
			t.Errorf("cleanup: remove %s: %v", c.Name, err)
		}
	}
}
