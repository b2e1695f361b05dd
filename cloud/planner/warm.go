package planner

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/drover-ci/drover/cloud/config"
)

// MinIdleAt is the template's warm pool size at now: the largest of its
// minIdle and the minIdle of each warm schedule whose window is open (the
// cron expression fired at some time f with now-duration < f <= now, in
// now's location). A schedule whose cron does not parse is an error naming
// it (Validate reports those first).
func MinIdleAt(t config.Template, now time.Time) (int, error) {
	n := t.MinIdle
	for i, w := range t.WarmSchedules {
		s, err := cron.ParseStandard(w.Cron)
		if err != nil {
			return 0, fmt.Errorf("planner: template %s: warmSchedules[%d]: %w", t.Name, i, err)
		}
		if w.MinIdle > n && !s.Next(now.Add(-w.Duration.Duration)).After(now) {
			n = w.MinIdle
		}
	}
	return n, nil
}

// Templates converts configured templates for Plan at now: labels, caps
// and the warm pool resolved by MinIdleAt; maxPending is the cap on agents
// not yet connected that every template gets (0 = none).
func Templates(ts []config.Template, maxPending int, now time.Time) ([]Template, error) {
	out := make([]Template, 0, len(ts))
	for _, t := range ts {
		minIdle, err := MinIdleAt(t, now)
		if err != nil {
			return nil, err
		}
		out = append(out, Template{Name: t.Name, Label: t.Label, InstanceCap: t.InstanceCap,
			MaxPending: maxPending, MinIdle: minIdle})
	}
	return out, nil
}
