package density

import (
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// PodTimes are one set of pods' startups, each sorted.
type PodTimes struct {
	// Startup are creationTimestamp → Running seen by the watch. creationTimestamp has whole
	// seconds (as in Kubernetes), so these are up to 1 s long; FromSeen are the same pods'
	// first sight by the watch → Running (the watch's delay of the first event left out).
	Startup, FromSeen []time.Duration
	// The phases split each startup as Kubernetes' density test does (whole seconds, from the
	// pod's status): creationTimestamp → PodScheduled's lastTransitionTime (the binding),
	// → the last container's state.running.startedAt (the node agent), → Running seen by
	// the watch. A pod whose status lacks a time is left out of the phases it bounds.
	CreateToSchedule, ScheduleToRun, RunToWatch []time.Duration
}

func (t *PodTimes) sort() {
	for _, d := range []([]time.Duration){t.Startup, t.FromSeen, t.CreateToSchedule, t.ScheduleToRun, t.RunToWatch} {
		slices.Sort(d)
	}
}

// tracker follows one set of pods (the saturation pods, or the latency pods) through a watch.
type tracker struct {
	mu          sync.Mutex
	seen        map[types.UID]time.Time
	running     map[types.UID]bool
	refs        []podRef
	times       PodTimes
	lastRunning time.Time
	relists     int
}

func newTracker() *tracker {
	return &tracker{seen: map[types.UID]time.Time{}, running: map[types.UID]bool{}}
}

// observe records pod as seen by a watch event now, or by a list (listed: the zero time):
// its first sight, and its startup when first Running. A pod a (re)list shows Running for the
// first time counts as Running but has no startup (when it started is not known).
func (t *tracker) observe(p *corev1.Pod, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	first, ok := t.seen[p.UID]
	if !ok {
		t.seen[p.UID] = now
		first = now
		t.refs = append(t.refs, podRef{p.Namespace, p.Name})
	}
	if p.Status.Phase != corev1.PodRunning || t.running[p.UID] {
		return
	}
	t.running[p.UID] = true
	if now.IsZero() {
		return
	}
	tt := &t.times
	tt.Startup = append(tt.Startup, now.Sub(p.CreationTimestamp.Time))
	if !first.IsZero() {
		tt.FromSeen = append(tt.FromSeen, now.Sub(first))
	}
	sched, run := scheduledAt(p), startedAt(p)
	if !sched.IsZero() {
		tt.CreateToSchedule = append(tt.CreateToSchedule, sched.Sub(p.CreationTimestamp.Time))
	}
	if !sched.IsZero() && !run.IsZero() {
		tt.ScheduleToRun = append(tt.ScheduleToRun, run.Sub(sched))
	}
	if !run.IsZero() {
		tt.RunToWatch = append(tt.RunToWatch, now.Sub(run))
	}
	t.lastRunning = now
}

func (t *tracker) counts() (seen, running int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.seen), len(t.running)
}

// result is a copy of the times, sorted, with how many pods were Running and when the last
// was seen so.
func (t *tracker) result() (PodTimes, int, time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := PodTimes{
		Startup: slices.Clone(t.times.Startup), FromSeen: slices.Clone(t.times.FromSeen),
		CreateToSchedule: slices.Clone(t.times.CreateToSchedule), ScheduleToRun: slices.Clone(t.times.ScheduleToRun),
		RunToWatch: slices.Clone(t.times.RunToWatch),
	}
	c.sort()
	return c, len(t.running), t.lastRunning
}

func (t *tracker) randomRef(pick func(n int) int) (podRef, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.refs) == 0 {
		return podRef{}, false
	}
	return t.refs[pick(len(t.refs))], true
}

// scheduledAt is when the pod was bound: its PodScheduled condition's lastTransitionTime.
func scheduledAt(p *corev1.Pod) time.Time {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime.Time
		}
	}
	return time.Time{}
}

// startedAt is when the pod's last container started running (zero unless all run).
func startedAt(p *corev1.Pod) time.Time {
	var last time.Time
	for _, c := range p.Status.ContainerStatuses {
		if c.State.Running == nil {
			return time.Time{}
		}
		if t := c.State.Running.StartedAt.Time; t.After(last) {
			last = t
		}
	}
	return last
}
