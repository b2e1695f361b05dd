package provider

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/drover-ci/drover/cloud/config"
	"github.com/drover-ci/drover/cloud/jenkins"
	"github.com/drover-ci/drover/cloud/planner"
)

// plan counts the agents per template, asks the planner, applies the
// back-offs, launches, scales swarm controllers and returns the Status.
func (p *Provider) plan(ctx context.Context, w *world) (Status, error) {
	now := w.now
	counts := map[string]planner.Agents{}
	nodeTemplate := map[string]string{}
	covered := map[int64]bool{} // queue items with a live agent launched for them
	offline := map[string]int{}
	for _, a := range w.agents {
		nodeTemplate[a.name] = a.template
		if a.state == StateTerminating {
			continue
		}
		if a.state == StateOffline {
			offline[a.template]++
		}
		c := counts[a.template]
		switch a.state {
		case StatePending:
			c.Pending++
		case StateStarting:
			c.Starting++
		case StateIdle:
			c.Idle++
		case StateBusy:
			c.Busy++
		}
		counts[a.template] = c
		if id, err := strconv.ParseInt(a.pod.Labels[LabelQueueItem], 10, 64); err == nil && a.state != StateBusy && a.state != StateOffline {
			covered[id] = true
		}
	}
	for n, t := range w.swarmComps {
		nodeTemplate[n] = t
	}
	maxPending := max(0, p.opts.MaxPending)
	tmpls, err := planner.Templates(p.cfg.Templates, maxPending, now)
	if err != nil {
		return Status{}, fmt.Errorf("provider: %w", err)
	}
	in := planner.Input{Items: w.queue, Templates: tmpls, Agents: counts, NodeTemplate: nodeTemplate,
		ContainerCap: p.cfg.ContainerCap}
	asg := planner.Assign(w.queue, tmpls, nodeTemplate)
	decisions := planner.Plan(in)

	st := Status{UpdatedAt: now, JenkinsURL: p.cfg.URL, Namespace: p.ns, ContainerCap: p.cfg.ContainerCap}
	waiting := map[int64]string{}
	itemTemplate := map[int64]string{}
	var errs []error
	for i, d := range decisions {
		t := p.cfg.Templates[i]
		c := counts[t.Name]
		ts := TemplateStatus{Name: t.Name, Label: t.Label, Mode: t.Mode, InstanceCap: t.InstanceCap,
			MinIdle: tmpls[i].MinIdle, Demand: d.Items, Pending: c.Pending, Starting: c.Starting, Idle: c.Idle,
			Busy: c.Busy, Offline: offline[t.Name], Decision: d.Reason}
		items := asg.ByTemplate[t.Name]
		for _, it := range items {
			itemTemplate[it.ID] = t.Name
		}
		if t.Mode == config.ModeSwarm {
			replicas, err := p.scaleSwarm(ctx, w, t, tmpls[i].MinIdle, c.Busy, d.Items)
			errs = append(errs, err)
			ts.Decision = fmt.Sprintf("%d queued, %d busy, minIdle %d: swarm replicas %d", d.Items, c.Busy, tmpls[i].MinIdle, replicas)
			// Swarm agents are counted by replicas, not per item.
			for j, it := range items {
				if j >= replicas-c.Busy {
					waiting[it.ID] = "swarm replicas capped at " + strconv.Itoa(replicas)
				}
			}
			st.Templates = append(st.Templates, ts)
			continue
		}
		launch, why := p.allowed(t.Name, d.Launch, c, now)
		if why != "" {
			ts.Decision += "; " + why
		}
		var free []jenkins.QueueItem
		for _, it := range items {
			if !covered[it.ID] {
				free = append(free, it)
			}
		}
		launched := 0
		for k := 0; k < launch; k++ {
			var item *jenkins.QueueItem
			if k < len(free) {
				item = &free[k]
			}
			name := nodeName(t.Name, w.names)
			pod, err := p.launch(ctx, w, t, item, now, name)
			if err != nil {
				errs = append(errs, err)
				if ctx.Err() == nil {
					p.launchFailed(now, t.Name, name, err)
				}
				break
			}
			launched++
			ts.Pending++
			w.agents = append(w.agents, &agent{name: pod.Name, template: t.Name, state: StatePending, pod: pod})
		}
		p.mu.Lock()
		if b := p.backoff[t.Name]; b != nil {
			u := b.until
			ts.BackoffUntil, ts.BackoffReason = &u, b.reason
		}
		p.mu.Unlock()
		// Which of its items have an agent coming: the first `coming` ones.
		coming := c.Pending + c.Starting + c.Idle + launched
		for j, it := range items {
			if j < coming {
				continue
			}
			switch {
			case why != "":
				waiting[it.ID] = why
			case d.Launch < d.Want:
				waiting[it.ID] = "cap reached: " + d.Reason
			default:
				waiting[it.ID] = "launch failed; retrying"
			}
		}
		st.Templates = append(st.Templates, ts)
	}
	for _, u := range asg.Unmatched {
		if !u.Item.Buildable {
			waiting[u.Item.ID] = "Jenkins says: " + u.Item.Why
		} else {
			waiting[u.Item.ID] = u.Reason
		}
	}
	for _, it := range w.queue {
		st.Queue = append(st.Queue, QueueStatus{ID: it.ID, Task: it.TaskName, Label: it.Label, Why: it.Why,
			Since: it.InQueueSince, Template: itemTemplate[it.ID], Waiting: waiting[it.ID]})
	}
	for _, a := range w.agents {
		st.Agents = append(st.Agents, AgentStatus{Name: a.name, Template: a.template, Pod: a.pod.Name,
			State: a.state, Created: parseStamp(a.annotation(AnnotationCreatedAt), a.pod.CreationTimestamp.Time).UTC(),
			Reason: a.reason})
	}
	sort.Slice(st.Agents, func(i, j int) bool { return st.Agents[i].Name < st.Agents[j].Name })
	p.mu.Lock()
	st.Failures = append([]Failure(nil), p.failures...)
	p.mu.Unlock()
	p.setGauges(st)
	return st, errors.Join(errs...)
}

// allowed applies a template's back-off to the planner's launch count:
// while it backs off nothing is launched; once the back-off has expired one
// probe agent may be launched when none of the template's agents is still
// starting. It returns the number allowed and, when limited, why.
func (p *Provider) allowed(template string, launch int, c planner.Agents, now time.Time) (int, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.backoff[template]
	if b == nil || launch == 0 {
		return launch, ""
	}
	if now.Before(b.until) {
		return 0, fmt.Sprintf("backing off until %s after %s", b.until.UTC().Format(time.RFC3339), b.reason)
	}
	if c.Pending+c.Starting > 0 {
		return 0, "backing off: waiting for the probe agent to connect after " + b.reason
	}
	if launch > 1 {
		return 1, "backing off: launching one probe agent after " + b.reason
	}
	return 1, ""
}

func (p *Provider) setGauges(st Status) {
	if p.opts.Metrics == nil {
		return
	}
	for _, t := range st.Templates {
		g := p.opts.Metrics.Agents
		g.WithLabelValues(t.Name, StatePending).Set(float64(t.Pending))
		g.WithLabelValues(t.Name, StateStarting).Set(float64(t.Starting))
		g.WithLabelValues(t.Name, StateIdle).Set(float64(t.Idle))
		g.WithLabelValues(t.Name, StateBusy).Set(float64(t.Busy))
		g.WithLabelValues(t.Name, StateOffline).Set(float64(t.Offline))
	}
}
