package provider

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
)

// report builds the Status from what the poll saw, decided and did, and
// sets the gauges.
func (p *Provider) report(w *world, d decision, out outcome) Status {
	st := Status{UpdatedAt: w.now, JenkinsURL: p.cfg.URL, Namespace: p.ns, ContainerCap: p.cfg.ContainerCap,
		Warnings: p.cfg.Warnings()}
	launched := map[string]int{}
	for i, l := range d.launches {
		if out.launched[i] != "" {
			launched[l.template]++
			st.Agents = append(st.Agents, AgentStatus{Name: out.launched[i], Template: l.template, Pod: out.launched[i],
				State: StatePending, Created: w.now.UTC()})
		}
	}
	backoffs := p.backoffs() // as act left them
	for _, t := range p.cfg.Templates {
		if ts := d.templates[t.Name]; ts != nil {
			s := *ts
			s.Pending += launched[t.Name]
			s.BackoffUntil, s.BackoffReason = nil, ""
			if b, ok := backoffs[t.Name]; ok {
				u := b.until
				s.BackoffUntil, s.BackoffReason = &u, b.reason
			}
			st.Templates = append(st.Templates, s)
		}
	}
	st.Queue = queueStatus(w, d, out)
	st.Agents = append(st.Agents, p.agentStatus(w, d, out)...)
	sort.Slice(st.Agents, func(i, j int) bool { return st.Agents[i].Name < st.Agents[j].Name })
	if l := w.listener; l != nil {
		st.Listener = &ListenerStatus{Enabled: l.Enabled, Port: l.Port, Protocols: l.Protocols, JNLP4: l.OffersJNLP4()}
	}
	for _, name := range d.listenerRefuses {
		st.Warnings = append(st.Warnings, "template "+name+": "+listenerRefusal(w.listener))
	}
	st.Requeues = requeueStatus(w, d)
	p.mu.Lock()
	st.Failures = append([]Failure(nil), p.failures...)
	p.mu.Unlock()
	p.setGauges(st)
	return st
}

// queueStatus is every queued item with Jenkins' why and drover's reason.
func queueStatus(w *world, d decision, out outcome) []QueueStatus {
	var qs []QueueStatus
	for _, it := range w.queue {
		q := QueueStatus{ID: it.ID, Task: it.TaskName, Label: it.Label, Why: it.Why, Since: it.InQueueSince}
		if f := d.items[it.ID]; f != nil {
			q.Template, q.Agent, q.Waiting = f.template, f.agent, f.waiting
			if f.excluded != "" {
				q.Agent = f.excluded
			}
			if f.launch > 0 {
				if name := out.launched[f.launch-1]; name != "" {
					q.Agent = name
				} else {
					q.Waiting = "launch failed; retrying"
				}
			}
		}
		qs = append(qs, q)
	}
	return qs
}

// agentStatus is every agent with its state after the poll.
func (p *Provider) agentStatus(w *world, d decision, out outcome) []AgentStatus {
	after := map[*agent]agentAction{}
	for _, x := range d.agents {
		after[x.agent] = x
	}
	var as []AgentStatus
	for _, a := range w.agents {
		state, reason := a.state, a.reason
		if x, ok := after[a]; ok {
			state, reason = x.state, x.reason
		}
		if s, ok := out.states[a.name]; ok {
			state, reason = s[0], s[1]
		}
		as = append(as, AgentStatus{Name: a.name, Template: a.template, Pod: a.pod.Name, State: state,
			Created: parseStamp(a.annotation(AnnotationCreatedAt), a.pod.CreationTimestamp.Time).UTC(), Reason: reason})
	}
	return as
}

// requeueStatus lists the ledger as this poll leaves it, oldest first.
func requeueStatus(w *world, d decision) []RequeueStatus {
	entries := map[string]lostBuild{}
	for k, e := range w.ledger {
		entries[k] = e
	}
	for _, e := range d.lost {
		entries[e.Build] = e
	}
	for _, r := range d.requeues {
		entries[r.entry.Build] = r.entry
	}
	var out []RequeueStatus
	for _, e := range entries {
		out = append(out, RequeueStatus{Build: e.Build, Template: e.Template, Agent: e.Agent, Reason: e.Reason,
			LostAt: e.LostAt.UTC(), Attempt: e.Attempt, State: e.State, Detail: e.Detail})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].LostAt.Equal(out[j].LostAt) {
			return out[i].LostAt.Before(out[j].LostAt)
		}
		return out[i].Build < out[j].Build
	})
	return out
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

// countLost counts an agent lost to infrastructure, by reason.
func (p *Provider) countLost(template, reason string) {
	if p.opts.Metrics != nil {
		p.opts.Metrics.Lost.WithLabelValues(template, reason).Inc()
	}
}

// recordRequeue counts a requeue and records it as an event on the ledger.
func (p *Provider) recordRequeue(e lostBuild) {
	if p.opts.Metrics != nil {
		p.opts.Metrics.Requeued.WithLabelValues(e.Template, e.Reason).Inc()
	}
	if p.opts.Recorder != nil {
		ref := &corev1.ObjectReference{APIVersion: "v1", Kind: "ConfigMap", Namespace: p.ns, Name: RequeueConfigMap}
		p.opts.Recorder.Eventf(ref, corev1.EventTypeNormal, "BuildRequeued", "build %s lost (%s, agent %s): %s",
			e.Build, e.Reason, e.Agent, e.Detail)
	}
}

// warnListener logs and records an event when the TCP templates the
// controller's listener refuses change (not every poll).
func (p *Provider) warnListener(w *world, templates []string) {
	key := listenerRefusal(w.listener)
	for _, t := range templates {
		key += "|" + t
	}
	p.mu.Lock()
	same := p.listenerWarned == key
	p.listenerWarned = key
	p.mu.Unlock()
	if same {
		return
	}
	msg := listenerRefusal(w.listener)
	p.log.Warn("TCP agent templates cannot start agents", "templates", templates, "why", msg)
	if p.opts.Recorder != nil {
		ref := &corev1.ObjectReference{APIVersion: "v1", Kind: "ConfigMap", Namespace: p.ns, Name: StatusConfigMap}
		for _, t := range templates {
			p.opts.Recorder.Eventf(ref, corev1.EventTypeWarning, "TCPAgentsRefused", "template %s: %s", t, msg)
		}
	}
}
