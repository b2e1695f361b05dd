package planner

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cloud/config"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestMinIdleAt(t *testing.T) {
	weekdays := config.WarmSchedule{Cron: "0 8 * * 1-5", Duration: metav1.Duration{Duration: 10 * time.Hour}, MinIdle: 4}
	noon := config.WarmSchedule{Cron: "0 12 * * *", Duration: metav1.Duration{Duration: time.Hour}, MinIdle: 6}
	low := config.WarmSchedule{Cron: "* * * * *", Duration: metav1.Duration{Duration: time.Hour}, MinIdle: 0}
	tmpl := config.Template{Name: "docker", MinIdle: 1, WarmSchedules: []config.WarmSchedule{weekdays, noon, low}}
	// 2026-11-23 is a Monday.
	for _, tc := range []struct {
		now  string
		want int
	}{
		{"2026-11-23T07:59:59Z", 1}, // before the window
		{"2026-11-23T08:00:00Z", 4}, // window opens at the firing
		{"2026-11-23T11:30:00Z", 4},
		{"2026-11-23T12:00:00Z", 6}, // the larger of two open windows
		{"2026-11-23T12:59:59Z", 6},
		{"2026-11-23T13:00:00Z", 4}, // noon window closed
		{"2026-11-23T17:59:59Z", 4},
		{"2026-11-23T18:00:00Z", 1}, // 10 h later: closed
		{"2026-11-22T09:00:00Z", 1}, // Sunday
		{"2026-11-22T12:30:00Z", 6}, // noon runs every day
		{"2026-11-21T03:00:00Z", 1}, // low schedule never lowers minIdle
	} {
		got, err := MinIdleAt(tmpl, at(tc.now))
		if err != nil || got != tc.want {
			t.Errorf("MinIdleAt(%s) = %d, %v; want %d", tc.now, got, err, tc.want)
		}
	}
	// The window follows now's location.
	paris := time.FixedZone("CET", 3600)
	if got, _ := MinIdleAt(tmpl, at("2026-11-23T07:30:00Z").In(paris)); got != 4 {
		t.Errorf("08:30 CET: minIdle %d, want 4", got)
	}
	bad := config.Template{Name: "b", WarmSchedules: []config.WarmSchedule{{Cron: "0 8 * *"}}}
	if _, err := MinIdleAt(bad, time.Now()); err == nil || !strings.Contains(err.Error(), "warmSchedules[0]") {
		t.Errorf("bad cron: %v", err)
	}
}

func TestTemplates(t *testing.T) {
	cfg := []config.Template{
		{Name: "docker", Label: "docker linux", InstanceCap: 5, MinIdle: 1,
			WarmSchedules: []config.WarmSchedule{{Cron: "0 8 * * *", Duration: metav1.Duration{Duration: time.Hour}, MinIdle: 3}}},
		{Name: "generic"},
	}
	got, err := Templates(cfg, 4, at("2026-11-23T08:10:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Template{
		{Name: "docker", Label: "docker linux", InstanceCap: 5, MaxPending: 4, MinIdle: 3},
		{Name: "generic", MaxPending: 4},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Templates (-want +got):\n%s", d)
	}
	if _, err := Templates([]config.Template{{Name: "b", WarmSchedules: []config.WarmSchedule{{Cron: "x"}}}}, 0, time.Now()); err == nil {
		t.Error("Templates accepted a bad cron")
	}
}
