package cronjob

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
)

// maxMissed is how many missed schedules are tolerated before the TooManyMissedTimes event.
const maxMissed = 100

// nextDelta is added to every requeue so that the sync lands just after the schedule time.
const nextDelta = 100 * time.Millisecond

// scheduleText is the schedule handed to the parser: the spec's schedule, prefixed with
// "TZ=<timeZone> " when a time zone is set. As in Kubernetes, a schedule that already carries
// TZ= or CRON_TZ= (only old objects can) is used as written, and the time zone field is ignored.
func scheduleText(cj *batchv1.CronJob) (text string, legacyTZ bool) {
	if strings.Contains(cj.Spec.Schedule, "TZ") {
		return cj.Spec.Schedule, true
	}
	if cj.Spec.TimeZone != nil {
		return fmt.Sprintf("TZ=%s %s", *cj.Spec.TimeZone, cj.Spec.Schedule), false
	}
	return cj.Spec.Schedule, false
}

// parseSchedule parses a standard five-field schedule or a macro (@hourly, @daily, …).
func parseSchedule(text string) (cron.Schedule, error) {
	s, err := cron.ParseStandard(text)
	if err != nil {
		return nil, fmt.Errorf("cronjob: parse schedule %q: %w", text, err)
	}
	return s, nil
}

// missed is what mostRecent found.
type missed struct {
	// at is the most recent schedule time not yet run; zero when none is due.
	at time.Time
	// tooMany says more than maxMissed schedules were missed (only at is considered).
	tooMany bool
}

// mostRecent returns the latest schedule time in (earliest, now], where earliest is the last
// schedule time (or the creation time) moved up to now-startingDeadlineSeconds if that is later.
// Only one run is made for all the missed times, as in Kubernetes' cronjob controller v2.
func mostRecent(cj *batchv1.CronJob, sched cron.Schedule, now time.Time) (missed, error) {
	earliest := cj.CreationTimestamp.Time
	if cj.Status.LastScheduleTime != nil {
		earliest = cj.Status.LastScheduleTime.Time
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil {
		if dl := now.Add(-time.Duration(*d) * time.Second); dl.After(earliest) {
			earliest = dl
		}
	}
	t := sched.Next(earliest)
	if t.IsZero() {
		return missed{}, errors.New("cronjob: schedule never fires")
	}
	if t.After(now) {
		return missed{}, nil
	}
	for n := 1; n <= maxMissed; n++ {
		next := sched.Next(t)
		if next.After(now) {
			return missed{at: t}, nil
		}
		t = next
	}
	return missed{at: latestBefore(sched, t, now), tooMany: true}, nil
}

// latestBefore finds the latest schedule time ≤ now, knowing from ≤ now is one: it looks back
// from now in doubling steps until a schedule time falls in the window, then walks forward.
func latestBefore(sched cron.Schedule, from, now time.Time) time.Time {
	step := sched.Next(from).Sub(from)
	if step < time.Second {
		step = time.Second
	}
	start := from
	for back := step; now.Add(-back).After(from); back *= 2 {
		if t := sched.Next(now.Add(-back)); !t.After(now) {
			start = t
			break
		}
	}
	for next := sched.Next(start); !next.After(now); next = sched.Next(start) {
		start = next
	}
	return start
}

// inZone is t in the schedule's time zone.
func inZone(sched cron.Schedule, t time.Time) time.Time {
	if s, ok := sched.(*cron.SpecSchedule); ok && s.Location != nil {
		return t.In(s.Location)
	}
	return t
}

// requeueAfter is how long to wait until the schedule fires after now.
func requeueAfter(sched cron.Schedule, now time.Time) (time.Duration, bool) {
	next := sched.Next(now)
	if next.IsZero() {
		return 0, false
	}
	return next.Sub(now) + nextDelta, true
}
