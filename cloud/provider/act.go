package provider

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover-ci/drover/cloud/jenkins"
)

// MaxParallelLaunches bounds the launches carried out at once.
const MaxParallelLaunches = 8

// outcome is what act did that report needs beyond the decision.
type outcome struct {
	// states overrides agents' states and reasons (idle agents that took
	// a build while being removed).
	states map[string][2]string
	// launched are the agent names of d.launches ("" where it failed).
	launched []string
}

// act carries a decision out. Every step is idempotent against the API and
// Jenkins (names, labels and annotations there are the memory): a provider
// killed in the middle and restarted observes what was done and decides
// only the rest. Errors are joined; a failing step does not stop the others.
func (p *Provider) act(ctx context.Context, w *world, d decision) (outcome, error) {
	out := outcome{states: map[string][2]string{}}
	var errs []error
	// Lost builds go to the ledger before their pods go: the ledger is the
	// only memory of a build whose pod is deleted.
	if len(d.lost) > 0 {
		errs = append(errs, p.writeLedger(ctx, w.now, d.lost...))
	}
	for _, x := range d.agents {
		errs = append(errs, p.actAgent(ctx, w, x))
	}
	errs = append(errs, p.removeIdle(ctx, w, d.remove, out.states))
	errs = append(errs, p.actNodes(ctx, w, d))
	p.pruneRecorded(w)
	errs = append(errs, p.actRequeues(ctx, w, d))
	for _, t := range d.connected {
		p.resetBackoff(t)
	}
	p.observeStages(d.stages)
	var lerr error
	out.launched, lerr = p.actLaunches(ctx, w, d)
	errs = append(errs, lerr)
	for name, replicas := range d.swarm {
		errs = append(errs, p.scaleSwarm(ctx, w, name, replicas))
	}
	errs = append(errs, p.actSentinel(ctx, d.sentinel))
	if len(d.listenerRefuses) > 0 {
		p.warnListener(w, d.listenerRefuses)
	}
	return out, errors.Join(errs...)
}

// actAgent writes an agent's annotations, takes it offline and ends it as
// decided.
func (p *Provider) actAgent(ctx context.Context, w *world, x agentAction) error {
	a := x.agent
	if len(x.patch) > 0 {
		if err := p.patchPod(ctx, a.pod.Name, x.patch); err != nil {
			return err
		}
	}
	if x.offline != "" {
		if err := p.opts.Jenkins.SetOffline(ctx, a.name, x.offline); err != nil && !errors.Is(err, jenkins.ErrNodeNotFound) {
			return fmt.Errorf("provider: one-shot agent %s: %w", a.name, err)
		}
		p.log.Info("one-shot agent took its build; marked temporarily offline", "agent", a.name, "template", a.template)
	}
	switch x.op {
	case opRetire:
		p.log.Info("removing agent", "agent", a.name, "template", a.template, "reason", x.reason)
		return p.retire(ctx, a, w.now)
	case opDeletePod:
		p.log.Info("deleting agent pod", "agent", a.name, "template", a.template, "reason", x.reason)
		return p.deletePod(ctx, a.pod)
	case opFail:
		return p.fail(ctx, x, w.now)
	}
	return nil
}

// removeIdle removes agents chosen while idle from the snapshot read at the
// start of the poll, without killing a build Jenkins assigned meanwhile:
// each is marked (AnnotationRetiring) and taken temporarily offline, then
// the computers are read again (once for the batch) and only those still
// idle are deleted. One that took a build keeps it (offline, it takes no
// more) and is retired once idle.
func (p *Provider) removeIdle(ctx context.Context, w *world, list []*agent, states map[string][2]string) error {
	var errs []error
	var marked []*agent
	for _, a := range list {
		if a.annotation(AnnotationRetiring) == "" {
			if err := p.patchPod(ctx, a.pod.Name, map[string]any{AnnotationRetiring: stamp(w.now)}); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if err := p.opts.Jenkins.SetOffline(ctx, a.name, IdleRemovalMessage); err != nil {
			if errors.Is(err, jenkins.ErrNodeNotFound) {
				errs = append(errs, p.retire(ctx, a, w.now))
				continue
			}
			errs = append(errs, fmt.Errorf("provider: take idle agent %s offline: %w", a.name, err))
			continue
		}
		marked = append(marked, a)
	}
	if len(marked) == 0 {
		return errors.Join(errs...)
	}
	comps, err := p.opts.Jenkins.Computers(ctx)
	if err != nil {
		// Marked: retired in a later poll once idle.
		return errors.Join(append(errs, fmt.Errorf("provider: read computers before removing idle agents: %w", err))...)
	}
	byName := map[string]*jenkins.Computer{}
	for i := range comps {
		byName[comps[i].Name] = &comps[i]
	}
	for _, a := range marked {
		if c := byName[a.name]; c != nil && (len(c.Builds) > 0 || !c.Idle) {
			states[a.name] = [2]string{StateBusy, "took a build while being removed; removed when it ends"}
			p.log.Info("idle agent took a build while being removed; keeping it until the build ends", "agent", a.name, "template", a.template)
			continue
		}
		states[a.name] = [2]string{StateTerminating, "idle"}
		p.log.Info("removing idle agent", "agent", a.name, "template", a.template)
		errs = append(errs, p.deletePod(ctx, a.pod), p.deleteNode(ctx, a.name))
	}
	return errors.Join(errs...)
}

// actNodes deletes Jenkins nodes without a pod; a busy one is an agent
// lost mid-build (recorded once).
func (p *Provider) actNodes(ctx context.Context, w *world, d decision) error {
	var errs []error
	for _, n := range d.nodes {
		switch {
		case n.lost && p.wasRecorded(n.name):
			p.log.Info("deleting the Jenkins node of a failed agent", "agent", n.name, "template", n.template)
		case n.lost:
			p.log.Warn("agent pod lost mid-build; deleting its Jenkins node", "agent", n.name, "template", n.template)
			ref := &corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: p.ns, Name: n.name}
			p.recordFailure(w.now, n.template, n.name, "AgentLost", lostMessage(n), ref, false)
			p.countLost(n.template, LostPodDeleted)
		default:
			p.log.Info("deleting orphan Jenkins node (no agent pod)", "agent", n.name, "template", n.template)
		}
		errs = append(errs, p.deleteNode(ctx, n.name))
	}
	return errors.Join(errs...)
}

// actRequeues closes ledger entries. A requeue is written to the ledger
// before the job is triggered: a provider killed between the two never
// triggers it (at most once), and one killed after the trigger does not
// trigger it again.
func (p *Provider) actRequeues(ctx context.Context, w *world, d decision) error {
	for _, l := range d.lost {
		p.countLost(l.Template, l.Reason)
	}
	var errs []error
	for _, r := range d.requeues {
		e := r.entry
		if err := p.writeLedger(ctx, w.now, e); err != nil {
			errs = append(errs, err)
			continue
		}
		if !r.trigger {
			p.log.Info("lost build not requeued", "build", e.Build, "reason", e.Reason, "why", e.Detail)
			continue
		}
		item, err := p.opts.Jenkins.TriggerBuild(ctx, r.job, r.params)
		if err != nil {
			e.Detail = "trigger failed: " + err.Error()
			errs = append(errs, fmt.Errorf("provider: requeue %s: %w", e.Build, err))
		} else {
			e.QueueItem = queueItemID(item)
			e.Detail = fmt.Sprintf("queued again as item %d (attempt %d of %d)", e.QueueItem, e.Attempt+1, e.Retries+1)
			p.log.Info("requeued a build lost to infrastructure", "build", e.Build, "reason", e.Reason, "queueItem", item)
			p.recordRequeue(e)
		}
		errs = append(errs, p.writeLedger(ctx, w.now, e))
	}
	return errors.Join(errs...)
}

// actLaunches creates the cache claims, then the agents, up to
// MaxParallelLaunches at once.
func (p *Provider) actLaunches(ctx context.Context, w *world, d decision) ([]string, error) {
	var errs []error
	for _, c := range d.claims {
		errs = append(errs, p.ensureClaim(ctx, c))
	}
	names := make([]string, len(d.launches))
	if err := errors.Join(errs...); err != nil {
		return names, err
	}
	taken := map[string]bool{}
	for n := range w.comps {
		taken[n] = true
	}
	for _, a := range w.agents {
		taken[a.pod.Name] = true
	}
	lerrs := make([]error, len(d.launches))
	sem := make(chan struct{}, MaxParallelLaunches)
	var wg sync.WaitGroup
	tried := make([]string, len(d.launches))
	for i, l := range d.launches {
		name := nodeName(l.template, taken)
		tried[i] = name
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			t, _ := p.template(l.template)
			if _, err := p.launch(ctx, t, l, w.now, name); err != nil {
				lerrs[i] = err
				return
			}
			names[i] = name
		}()
	}
	wg.Wait()
	// One failure recorded per template and poll: the launches of one
	// poll are one round.
	failed := map[string]bool{}
	for i, err := range lerrs {
		if t := d.launches[i].template; err != nil && ctx.Err() == nil && !failed[t] {
			failed[t] = true
			p.launchFailed(w.now, t, tried[i], err)
		}
	}
	return names, errors.Join(lerrs...)
}

// actSentinel creates or deletes the label sentinel node.
func (p *Provider) actSentinel(ctx context.Context, op string) error {
	name := SentinelNodePrefix + p.ns
	switch op {
	case "create":
		err := p.opts.Jenkins.CreateInboundNode(ctx, jenkins.NodeSpec{Name: name, Description: sentinelDescription,
			Executors: 1, Mode: "EXCLUSIVE"})
		if err != nil {
			return fmt.Errorf("provider: create label sentinel node: %w", err)
		}
		p.log.Info("created the label sentinel node (a queued item names no label)", "node", name)
	case "delete":
		if err := p.deleteNode(ctx, name); err != nil {
			return err
		}
		p.log.Info("deleted the label sentinel node", "node", name)
	}
	return nil
}

// observeStages records the stage durations decided.
func (p *Provider) observeStages(stages []stageObs) {
	if p.opts.Metrics == nil {
		return
	}
	for _, s := range stages {
		p.opts.Metrics.Stage.WithLabelValues(s.template, s.stage).Observe(s.seconds)
	}
}

// sweepDue reports whether the orphan sweep runs in the poll at now.
func (p *Provider) sweepDue(now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastSweep.IsZero() || now.Sub(p.lastSweep) >= p.opts.OrphanInterval
}
