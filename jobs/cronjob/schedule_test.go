package cronjob

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
)

func at(h, m int) time.Time { return time.Date(2026, 1, 2, h, m, 0, 0, time.UTC) }

func TestNotDueRequeuesAtNextSchedule(t *testing.T) {
	f := newFixture(t, t0.Add(30*time.Second), testCronJob("cj", "*/5 * * * *", nil))
	after, actions := f.sync("cj")
	if len(actions) != 0 {
		t.Fatalf("actions %v, want none", actions)
	}
	if want := at(3, 5).Sub(t0.Add(30*time.Second)) + nextDelta; after != want {
		t.Errorf("requeue after %v, want %v", after, want)
	}
}

func TestDueCreatesJobFromTemplate(t *testing.T) {
	cj := testCronJob("cj", "*/5 * * * *", nil)
	f := newFixture(t, at(3, 5).Add(10*time.Second), cj)
	after, actions := f.sync("cj")
	jobs := created(actions)
	if len(jobs) != 1 {
		t.Fatalf("created %d jobs, want 1", len(jobs))
	}
	j := jobs[0]
	if want := fmt.Sprintf("cj-%d", at(3, 5).Unix()/60); j.Name != want {
		t.Errorf("name %q, want %q", j.Name, want)
	}
	if got := j.Annotations[ScheduledTimestampAnnotation]; got != "2026-01-02T03:05:00Z" {
		t.Errorf("scheduled annotation %q", got)
	}
	ref := j.OwnerReferences
	if len(ref) != 1 || ref[0].UID != cj.UID || ref[0].Kind != "CronJob" || ref[0].Controller == nil || !*ref[0].Controller {
		t.Errorf("owner references %+v, want controller ref to the cronjob", ref)
	}
	if j.Labels["app"] != "backup" || j.Spec.Template.Spec.Containers[0].Image != "busybox" {
		t.Errorf("job not from template: %+v", j)
	}
	st := status(actions)
	if st == nil || !st.LastScheduleTime.Time.Equal(at(3, 5)) || len(st.Active) != 1 || st.Active[0].Name != j.Name {
		t.Errorf("status %+v, want lastScheduleTime 03:05 and the job active", st)
	}
	if want := 5*time.Minute - 10*time.Second + nextDelta; after != want {
		t.Errorf("requeue after %v, want %v", after, want)
	}
}

func TestMissedWindowsGiveOneCatchUp(t *testing.T) {
	cj := testCronJob("cj", "*/5 * * * *", lastScheduled(at(3, 5)))
	f := newFixture(t, at(5, 7), cj) // down for two hours: 24 schedules missed
	_, actions := f.sync("cj")
	if diff := cmp.Diff([]string{minute(at(5, 5))}, createdNames(actions)); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	for _, e := range f.events() {
		if strings.Contains(e, "TooManyMissedTimes") {
			t.Errorf("unexpected event %q", e)
		}
	}
}

func TestTooManyMissedIsOneEventAndOneJob(t *testing.T) {
	cj := testCronJob("cj", "* * * * *", lastScheduled(at(3, 4)))
	f := newFixture(t, at(8, 0).Add(30*time.Second), cj)
	_, actions := f.sync("cj")
	if diff := cmp.Diff([]string{minute(at(8, 0))}, createdNames(actions)); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	var n int
	for _, e := range f.events() {
		if strings.HasPrefix(e, "Warning TooManyMissedTimes") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d TooManyMissedTimes events, want 1", n)
	}
}

func TestMostRecentIrregularScheduleAfterLongDowntime(t *testing.T) {
	cj := testCronJob("cj", "0 9 * * 1-5", nil) // weekdays only
	sched, err := parseSchedule(cj.Spec.Schedule)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC) // a Sunday, a year later
	m, err := mostRecent(cj, sched, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC); !m.at.Equal(want) || !m.tooMany {
		t.Errorf("mostRecent = %v (tooMany %v), want Friday %v and tooMany", m.at, m.tooMany, want)
	}
}

func TestStartingDeadline(t *testing.T) {
	for _, tc := range []struct {
		deadline int64
		want     []string
	}{
		{deadline: 60, want: nil},
		{deadline: 200, want: []string{minute(at(4, 0))}},
	} {
		cj := testCronJob("cj", "0 * * * *", func(cj *batchv1.CronJob) {
			lastScheduled(at(3, 0))(cj)
			cj.Spec.StartingDeadlineSeconds = &tc.deadline
		})
		f := newFixture(t, at(4, 2), cj)
		_, actions := f.sync("cj")
		if diff := cmp.Diff(tc.want, createdNames(actions)); diff != "" {
			t.Errorf("deadline %d: created (-want +got):\n%s", tc.deadline, diff)
		}
	}
}

func TestUnparseableScheduleIsAnEvent(t *testing.T) {
	f := newFixture(t, at(4, 0), testCronJob("cj", "every tuesday", nil))
	after, actions := f.sync("cj")
	if len(actions) != 0 || after != 0 {
		t.Errorf("actions %v, requeue %v; want none", actions, after)
	}
	if ev := f.events(); len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning UnparseableSchedule") {
		t.Errorf("events %q, want one UnparseableSchedule warning", ev)
	}
}

func TestMacros(t *testing.T) {
	for sched, want := range map[string]time.Time{
		"@hourly": at(5, 0),
		"@daily":  time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC),
	} {
		s, err := parseSchedule(sched)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Next(at(4, 30)); !got.Equal(want) {
			t.Errorf("%s: next %v, want %v", sched, got, want)
		}
	}
}
