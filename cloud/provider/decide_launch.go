package provider

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/drover-ci/drover/agents/render"
	"github.com/drover-ci/drover/cloud/config"
	"github.com/drover-ci/drover/cloud/jenkins"
	"github.com/drover-ci/drover/cloud/planner"
)

// launch is one agent to create.
type launch struct {
	template string
	// item is the queue item it is for (nil: warm pool).
	item *jenkins.QueueItem
	// caches maps cache names to the claims leased for it.
	caches map[string]string
}

// census counts one template's agents once the agent actions are done.
type census struct {
	planner.Agents
	offline int
	// free are agents that can take an item and were not launched for a
	// queued one (warm pool, or their item has gone).
	free []string
}

// demand is the queue items that are demand: neither pending (handed to an
// executor) nor running on an agent launched for them. It also returns
// why the others are not.
func demand(w *world, d *decision) []jenkins.QueueItem {
	running := map[int64]string{}
	for _, a := range w.agents {
		if id, err := strconv.ParseInt(a.pod.Labels[render.LabelQueueItem], 10, 64); err == nil && a.busy() {
			running[id] = a.name
		}
	}
	var out []jenkins.QueueItem
	for _, it := range w.queue {
		switch {
		case it.Pending:
			d.items[it.ID] = &itemFate{excluded: "handed to an executor (pending)"}
		case running[it.ID] != "":
			d.items[it.ID] = &itemFate{excluded: "running on " + running[it.ID], agent: running[it.ID]}
		default:
			out = append(out, it)
		}
	}
	// Oldest first: Jenkins lists the queue newest first.
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// decideLaunches counts agents, assigns the demand to templates once,
// plans with cap and back-off, and decides per template the launches (each
// for the item it is meant for), the swarm replicas, the cache leases and
// why each item waits.
func decideLaunches(w *world, pol policy, d *decision) {
	items := demand(w, d)
	counts, covered, nodeTemplate := countAgents(w, pol, d, items)
	tmpls, err := planner.Templates(pol.cfg.Templates, max(0, pol.maxPending), w.now)
	if err != nil {
		return // Validate rejects such a configuration
	}
	asg := planner.Assign(items, tmpls, nodeTemplate)
	plain := map[string]planner.Agents{}
	for n, c := range counts {
		plain[n] = c.Agents
	}
	plans := planner.ByTemplate(planner.PlanAssigned(asg, planner.Input{Templates: tmpls, Agents: plain,
		ContainerCap: pol.cfg.ContainerCap}))
	leases := newLeaser(w)
	for i, t := range pol.cfg.Templates {
		c := counts[t.Name]
		pl := plans[t.Name]
		ts := &TemplateStatus{Name: t.Name, Label: t.Label, Mode: t.Mode, InstanceCap: t.InstanceCap,
			MinIdle: tmpls[i].MinIdle, Demand: pl.Items, Pending: c.Pending, Starting: c.Starting, Idle: c.Idle,
			Busy: c.Busy, Offline: c.offline, Decision: pl.Reason}
		if b, ok := pol.backoffs[t.Name]; ok {
			u := b.until
			ts.BackoffUntil, ts.BackoffReason = &u, b.reason
		}
		d.templates[t.Name] = ts
		its := asg.ByTemplate[t.Name]
		for _, it := range its {
			d.items[it.ID] = &itemFate{template: t.Name}
		}
		if t.Mode == config.ModeSwarm {
			decideSwarm(d, t, tmpls[i].MinIdle, c, its)
			continue
		}
		why := ""
		n := 0
		if tcp(pol.cfg, t) {
			why = listenerRefusal(w.listener)
		}
		if why != "" {
			if pl.Launch > 0 || len(its) > 0 {
				d.listenerRefuses = append(d.listenerRefuses, t.Name)
			}
		} else {
			n, why = allowed(pol.backoffs, t.Name, pl.Launch, c.Agents, w.now)
		}
		if why != "" {
			ts.Decision += "; " + why
		}
		planItems(d, t, its, covered, c, n, why, pl, leases)
	}
	d.claims = leases.created
	for _, u := range asg.Unmatched {
		f := &itemFate{waiting: u.Reason}
		if !u.Item.Buildable {
			f.waiting = "Jenkins says: " + u.Item.Why
		}
		d.items[u.Item.ID] = f
	}
}

// countAgents counts each template's agents after the actions, the items
// with a live agent launched for them, and the template of every node.
func countAgents(w *world, pol policy, d *decision, items []jenkins.QueueItem) (map[string]*census, map[int64]string, map[string]string) {
	queued, handed := map[int64]bool{}, map[int64]bool{}
	for _, it := range items {
		queued[it.ID] = true
	}
	for _, it := range w.queue {
		handed[it.ID] = it.Pending
	}
	counts := map[string]*census{}
	covered := map[int64]string{}
	nodeTemplate := map[string]string{}
	for _, t := range pol.cfg.Templates {
		counts[t.Name] = &census{}
	}
	for _, a := range w.agents {
		nodeTemplate[a.name] = a.template
		if a.swarm && a.comp != nil {
			nodeTemplate[a.comp.Name] = a.template
		}
		state := d.stateAfter(a)
		c := counts[a.template]
		if c == nil {
			c = &census{}
			counts[a.template] = c
		}
		switch state {
		case StatePending:
			c.Pending++
		case StateStarting:
			c.Starting++
		case StateIdle:
			c.Idle++
		case StateBusy:
			c.Busy++
		case StateOffline:
			c.offline++
		}
		if state != StatePending && state != StateStarting && state != StateIdle {
			continue
		}
		id, err := strconv.ParseInt(a.pod.Labels[render.LabelQueueItem], 10, 64)
		switch {
		case err == nil && queued[id] && covered[id] == "":
			covered[id] = a.name
		case err == nil && handed[id]:
			// Its item was just handed to an executor: most likely its own.
		default:
			c.free = append(c.free, a.name)
		}
	}
	return counts, covered, nodeTemplate
}

// planItems matches a template's items with the agents coming for them —
// the agent launched for the item (by its queue item label, never by
// position), then free agents, then the launches — and says why the rest
// wait.
func planItems(d *decision, t config.Template, its []jenkins.QueueItem, covered map[int64]string,
	c *census, n int, why string, pl planner.Decision, leases *leaser) {
	free := c.free
	var rest []jenkins.QueueItem
	for _, it := range its {
		switch {
		case covered[it.ID] != "":
			d.items[it.ID].agent = covered[it.ID]
		case len(free) > 0:
			d.items[it.ID].agent, free = free[0], free[1:]
		default:
			rest = append(rest, it)
		}
	}
	for k := 0; k < n; k++ {
		l := launch{template: t.Name}
		caches, wait := leases.lease(t)
		if wait != "" {
			why = wait
			break
		}
		l.caches = caches
		if k < len(rest) {
			it := rest[k]
			l.item = &it
		}
		d.launches = append(d.launches, l)
		if l.item != nil {
			d.items[l.item.ID].launch = len(d.launches)
		}
	}
	for _, it := range rest {
		f := d.items[it.ID]
		if f.launch > 0 {
			continue
		}
		switch {
		case why != "":
			f.waiting = why
		case pl.Launch < pl.Want:
			f.waiting = "cap reached: " + pl.Reason
		default:
			f.waiting = "an agent is starting for another item; waiting for the next poll"
		}
	}
}

// decideSwarm sets a swarm template's replicas: swarm agents are counted by
// replicas, not per item.
func decideSwarm(d *decision, t config.Template, minIdle int, c *census, its []jenkins.QueueItem) {
	replicas := render.SwarmReplicas(t, minIdle, c.Busy, len(its))
	d.swarm[t.Name] = replicas
	d.templates[t.Name].Decision = fmt.Sprintf("%d queued, %d busy, minIdle %d: swarm replicas %d", len(its), c.Busy, minIdle, replicas)
	for j, it := range its {
		if j >= replicas-c.Busy {
			d.items[it.ID].waiting = "swarm replicas capped at " + strconv.Itoa(replicas)
		}
	}
}

// allowed applies a template's back-off to the planner's launch count:
// while it backs off nothing is launched; once the back-off has expired one
// trial agent may be launched when none of the template's agents is still
// starting. It returns the number allowed and, when limited, why.
func allowed(backoffs map[string]backoff, template string, launch int, c planner.Agents, now time.Time) (int, string) {
	b, ok := backoffs[template]
	if !ok || launch == 0 {
		return launch, ""
	}
	if now.Before(b.until) {
		return 0, fmt.Sprintf("backing off until %s after %s", b.until.UTC().Format(time.RFC3339), b.reason)
	}
	if c.Pending+c.Starting > 0 {
		return 0, "backing off: waiting for the trial agent to connect after " + b.reason
	}
	if launch > 1 {
		return 1, "backing off: launching one trial agent after " + b.reason
	}
	return 1, ""
}
