package runtimetest

import (
	"errors"
	"testing"
	"time"

	"github.com/drover-ci/drover/cluster/container"
)

// testStats: a container burning half a core reports cumulative CPU time that grows at about
// that rate (at least a fifth of a core: the machine may be busy), and a memory working set
// above zero and not above usage; an idle one reports memory too.
func (s *suite) testStats(t *testing.T) {
	busy := container.Spec{Name: s.name(t), Image: s.opts.ServerImage, Env: []string{"BURN_CPU=0.5", "PORT=18089"}}
	id := s.run(t, busy)
	s.waitState(t, id, container.StateRunning)
	first := s.stats(t, id)
	time.Sleep(1500 * time.Millisecond)
	second := s.stats(t, id)
	window := second.Time.Sub(first.Time)
	if window <= 0 {
		t.Fatalf("second sample at %v is not after the first at %v", second.Time, first.Time)
	}
	if second.CPUUsageNanoSeconds < first.CPUUsageNanoSeconds {
		t.Fatalf("cumulative CPU went down: %d then %d", first.CPUUsageNanoSeconds, second.CPUUsageNanoSeconds)
	}
	cores := float64(second.CPUUsageNanoSeconds-first.CPUUsageNanoSeconds) / float64(window.Nanoseconds())
	if cores < 0.2 || cores > 1.5 {
		t.Errorf("a container burning 0.5 cores used %.3f cores over %v", cores, window)
	}
	for _, st := range []container.Stats{first, second} {
		if st.MemoryWorkingSetBytes == 0 || st.MemoryWorkingSetBytes > st.MemoryUsageBytes {
			t.Errorf("memory: working set %d, usage %d; want 0 < working set <= usage", st.MemoryWorkingSetBytes, st.MemoryUsageBytes)
		}
	}

	idle := s.run(t, s.exitSpec(t, []string{"SLEEP=inf"}))
	s.waitState(t, idle, container.StateRunning)
	if st := s.stats(t, idle); st.MemoryWorkingSetBytes == 0 || st.Time.IsZero() {
		t.Errorf("idle container: %+v, want a time and a working set", st)
	}
}

// testStatsStopped: Stats of a created or an exited container is ErrNotRunning.
func (s *suite) testStatsStopped(t *testing.T) {
	created := s.create(t, s.exitSpec(t, []string{"SLEEP=inf"}))
	if _, err := s.rt.Stats(s.ctx(t), created); !errors.Is(err, container.ErrNotRunning) {
		t.Errorf("Stats(created) = %v, want ErrNotRunning", err)
	}
	exited := s.run(t, s.exitSpec(t, nil))
	s.waitState(t, exited, container.StateExited)
	if _, err := s.rt.Stats(s.ctx(t), exited); !errors.Is(err, container.ErrNotRunning) {
		t.Errorf("Stats(exited) = %v, want ErrNotRunning", err)
	}
}

func (s *suite) stats(t *testing.T, id string) container.Stats {
	t.Helper()
	st, err := s.rt.Stats(s.ctx(t), id)
	if err != nil {
		t.Fatalf("Stats(%s): %v", id, err)
	}
	return st
}
