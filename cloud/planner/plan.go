package planner

import (
	"fmt"
	"strings"

	"github.com/drover-ci/drover/cloud/jenkins"
)

// Agents counts one template's agents, as read from the API's pods and
// Jenkins' computers (never from memory alone).
type Agents struct {
	// Pending pods are not running yet.
	Pending int
	// Starting agents run but have not connected yet.
	Starting int
	// Idle agents are connected with no build.
	Idle int
	// Busy agents are connected and building.
	Busy int
}

// Total is the number of agents in any state.
func (a Agents) Total() int { return a.Pending + a.Starting + a.Idle + a.Busy }

// coming is the number of agents that can take a queued build.
func (a Agents) coming() int { return a.Pending + a.Starting + a.Idle }

// Input is everything Plan looks at.
type Input struct {
	Items     []jenkins.QueueItem
	Templates []Template
	// Agents per template name.
	Agents map[string]Agents
	// NodeTemplate maps agent node names to their template (see Assign).
	NodeTemplate map[string]string
	// ContainerCap caps agents across all templates; 0 = no cap.
	ContainerCap int
}

// Decision is what to do for one template.
type Decision struct {
	Template string
	// Launch is the number of agents to create now.
	Launch int
	// Items is the number of buildable queue items assigned to it.
	Items int
	// Want is what it would launch without caps: items not covered by
	// pending, starting or idle agents, plus the warm pool's deficit.
	Want int
	// Reason explains Launch in words.
	Reason string
}

// Plan decides, per template in config order, how many agents to launch:
// want = max(0, items + minIdle − (pending + starting + idle)), then
// capped by the template's instanceCap (on all its agents), its MaxPending
// (on its agents not yet connected) and the global containerCap (on all
// agents, including those launched by earlier templates in this plan).
// It is deterministic and has one Decision per template.
func Plan(in Input) []Decision {
	return PlanAssigned(Assign(in.Items, in.Templates, in.NodeTemplate), in)
}

// PlanAssigned is Plan over items already assigned to templates (the
// caller ran Assign once and keeps its result); in.Items is not read.
func PlanAssigned(asg Assignment, in Input) []Decision {
	used := 0
	for _, a := range in.Agents {
		used += a.Total()
	}
	out := make([]Decision, 0, len(in.Templates))
	for _, t := range in.Templates {
		a := in.Agents[t.Name]
		d := Decision{Template: t.Name, Items: len(asg.ByTemplate[t.Name])}
		d.Want = max(0, d.Items+t.MinIdle-a.coming())
		var capped []string
		d.Launch = d.Want
		limit := func(name string, limit, usedNow int) {
			if limit <= 0 {
				return
			}
			if room := max(0, limit-usedNow); room < d.Launch {
				d.Launch = room
				capped = append(capped, fmt.Sprintf("%s %d", name, limit))
			}
		}
		limit("instanceCap", t.InstanceCap, a.Total())
		limit("pending cap", t.MaxPending, a.Pending+a.Starting)
		limit("containerCap", in.ContainerCap, used)
		used += d.Launch
		d.Reason = reason(d, t, a, capped)
		out = append(out, d)
	}
	return out
}

func reason(d Decision, t Template, a Agents, capped []string) string {
	s := fmt.Sprintf("%d queued + minIdle %d - %d coming (%d pending, %d starting, %d idle) = want %d",
		d.Items, t.MinIdle, a.coming(), a.Pending, a.Starting, a.Idle, d.Want)
	if len(capped) > 0 {
		s += "; capped by " + strings.Join(capped, ", ")
	}
	return fmt.Sprintf("%s; launch %d", s, d.Launch)
}

// ByTemplate indexes decisions by template name.
func ByTemplate(ds []Decision) map[string]Decision {
	out := make(map[string]Decision, len(ds))
	for _, d := range ds {
		out[d.Template] = d
	}
	return out
}
