package cronjob

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
)

func TestTimeZone(t *testing.T) {
	tokyo := "Asia/Tokyo"
	nine := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC) // 09:00 in Tokyo
	for _, tc := range []struct {
		name, schedule string
		tz             *string
		now            time.Time
		want           []string
		event          string
		last           *time.Time
	}{
		{name: "timeZone due", schedule: "0 9 * * *", tz: &tokyo, now: nine.Add(30 * time.Second),
			want: []string{JobName("cj", nine)}},
		{name: "timeZone not due at 09:00 UTC", schedule: "0 9 * * *", tz: &tokyo, now: nine.Add(9 * time.Hour),
			last: &nine},
		{name: "legacy CRON_TZ prefix", schedule: "CRON_TZ=Asia/Tokyo 0 9 * * *", now: nine.Add(30 * time.Second),
			want: []string{JobName("cj", nine)}, event: "Warning UnsupportedSchedule"},
		{name: "legacy TZ prefix", schedule: "TZ=Asia/Tokyo 0 9 * * *", now: nine.Add(30 * time.Second),
			want: []string{JobName("cj", nine)}, event: "Warning UnsupportedSchedule"},
		{name: "no zone is the controller's", schedule: "0 9 * * *", now: nine.Add(9*time.Hour + 30*time.Second),
			want: []string{JobName("cj", nine.Add(9*time.Hour))}},
		{name: "unknown zone", schedule: "0 9 * * *", tz: ptr("Mars/Olympus"), now: nine.Add(30 * time.Second),
			event: "Warning UnknownTimeZone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cj := testCronJob("cj", tc.schedule, func(cj *batchv1.CronJob) {
				cj.CreationTimestamp.Time = nine.Add(-time.Hour)
				cj.Spec.TimeZone = tc.tz
				if tc.last != nil {
					lastScheduled(*tc.last)(cj)
				}
			})
			f := newFixture(t, tc.now, cj)
			_, actions := f.sync("cj")
			if diff := cmp.Diff(tc.want, createdNames(actions)); diff != "" {
				t.Errorf("created (-want +got):\n%s", diff)
			}
			ev := f.events()
			if tc.event != "" && (len(ev) == 0 || !strings.HasPrefix(ev[0], tc.event)) {
				t.Errorf("events %q, want %s", ev, tc.event)
			}
		})
	}
}

func TestScheduledAnnotationIsInTheTimeZone(t *testing.T) {
	tokyo := "Asia/Tokyo"
	nine := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	cj := testCronJob("cj", "0 9 * * *", func(cj *batchv1.CronJob) {
		cj.CreationTimestamp.Time = nine.Add(-time.Hour)
		cj.Spec.TimeZone = &tokyo
	})
	f := newFixture(t, nine.Add(time.Second), cj)
	_, actions := f.sync("cj")
	jobs := created(actions)
	if len(jobs) != 1 {
		t.Fatalf("created %d jobs, want 1", len(jobs))
	}
	if got := jobs[0].Annotations[ScheduledTimestampAnnotation]; got != "2026-01-02T09:00:00+09:00" {
		t.Errorf("annotation %q, want Tokyo time", got)
	}
}

func ptr[T any](v T) *T { return &v }
