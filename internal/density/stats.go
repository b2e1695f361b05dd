package density

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Samples are durations collected concurrently.
type Samples struct {
	mu sync.Mutex
	d  []time.Duration
	// errs counts the failed calls (not in d).
	errs int
}

// Add records one duration.
func (s *Samples) Add(d time.Duration) {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
}

// Fail records one failed call.
func (s *Samples) Fail() {
	s.mu.Lock()
	s.errs++
	s.mu.Unlock()
}

// Snapshot is a copy of the durations, sorted, and the failures.
func (s *Samples) Snapshot() (sorted []time.Duration, errs int) {
	s.mu.Lock()
	out := slices.Clone(s.d)
	errs = s.errs
	s.mu.Unlock()
	slices.Sort(out)
	return out, errs
}

// Percentile is the p-th percentile (0 < p ≤ 100) of sorted by nearest rank: the smallest
// value with at least p % of the values at or below it. 0 for none.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	// rank = ceil(p/100 * n), computed in integers of 1e-6 % to avoid 0.9*100 = 90.00000001.
	n := int64(len(sorted))
	scaled := int64(p*1e6 + 0.5)
	rank := (scaled*n + 100e6 - 1) / 100e6
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// latencySummary is "P50 / P99 ms (n=N)" of an API call's samples, with failures.
func latencySummary(s *Samples) string {
	d, errs := s.Snapshot()
	if len(d) == 0 {
		if errs > 0 {
			return fmt.Sprintf("— (%d failed)", errs)
		}
		return "—"
	}
	out := fmt.Sprintf("%s / %s (n=%d)", fmtMS(Percentile(d, 50)), fmtMS(Percentile(d, 99)), len(d))
	if errs > 0 {
		out += fmt.Sprintf(", %d failed", errs)
	}
	return out
}

// startupSummary is "P50 / P90 / P99 s" of pod startup latencies.
func startupSummary(d []time.Duration) string {
	if len(d) == 0 {
		return "—"
	}
	return fmt.Sprintf("%s / %s / %s s", fmtS(Percentile(d, 50)), fmtS(Percentile(d, 90)), fmtS(Percentile(d, 99)))
}

// seenSummary is "P50 / P99 s" of first sight → Running latencies.
func seenSummary(d []time.Duration) string {
	if len(d) == 0 {
		return "—"
	}
	return fmt.Sprintf("%s / %s s", fmtS(Percentile(d, 50)), fmtS(Percentile(d, 99)))
}

// phaseSummary is "P50, P99 / P50, P99 / P50, P99 s" of the three phases of a startup
// (Result.CreateToSchedule, ScheduleToRun, RunToWatch); "—" for a phase with no figure.
func phaseSummary(phases ...[]time.Duration) string {
	cells := make([]string, len(phases))
	for i, d := range phases {
		cells[i] = "—"
		if len(d) > 0 {
			cells[i] = fmt.Sprintf("%s, %s", fmtS(Percentile(d, 50)), fmtS(Percentile(d, 99)))
		}
	}
	return strings.Join(cells, " / ") + " s"
}

// fmtMS is a duration in milliseconds: whole ones from 10 ms, one decimal below; seconds with
// two decimals from 1 s ("1.23 s").
func fmtMS(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", ms/1000)
	case ms >= 10:
		return fmt.Sprintf("%.0f ms", ms)
	default:
		return fmt.Sprintf("%.1f ms", ms)
	}
}

// fmtS is a duration in seconds with one decimal (two below 1 s).
func fmtS(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.2f", d.Seconds())
	}
	return fmt.Sprintf("%.1f", d.Seconds())
}

// fmtMB is bytes in MB (10^6) with one decimal below 10 MB, else whole.
func fmtMB(b int64) string {
	mb := float64(b) / 1e6
	if mb < 10 {
		return fmt.Sprintf("%.1f MB", mb)
	}
	return fmt.Sprintf("%.0f MB", mb)
}

// rate is n per second over d (0 when d is 0).
func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
