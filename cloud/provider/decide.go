package provider

import (
	"time"

	"github.com/drover-ci/drover/cloud/config"
	"github.com/drover-ci/drover/cloud/jenkins"
)

// policy is what decide reads besides the world: the configuration, the
// provider's settings and its back-offs (a copy: decide changes nothing).
type policy struct {
	cfg        *config.Config
	ns         string
	maxPending int
	backoffs   map[string]backoff
	// sweepDue is whether orphan nodes without a build are deleted now.
	sweepDue bool
}

// decision is everything one poll does, decided from the world alone.
// act carries it out; report publishes it.
type decision struct {
	// agents are the actions on agents (one per agent that needs any).
	agents []agentAction
	// remove are idle agents to take offline, check again and delete.
	remove []*agent
	// nodes are Jenkins nodes without a pod to delete.
	nodes []nodeAction
	// launches are the agents to create, per template in config order,
	// each for the queue item it is meant for (nil: warm pool).
	launches []launch
	// claims are the cache claims (and volumes) to create before launching.
	claims []claimRef
	// swarm are the replica counts of the swarm templates, by name.
	swarm map[string]int
	// lost are the builds newly lost to infrastructure (ledger entries to add).
	lost []lostBuild
	// requeues are ledger entries to trigger again or to close.
	requeues []requeueAction
	// stages are provisioning stage durations to observe.
	stages []stageObs
	// connected are the templates with an agent that connected (back-off ends).
	connected []string
	// sentinel is "create", "delete" or "" for the label sentinel node.
	sentinel string
	// templates are the per-template status lines, by name.
	templates map[string]*TemplateStatus
	// items are, by queue item id, its template, the agent coming for it
	// (or the launch), and drover's reason when none is.
	items map[int64]*itemFate
	// listenerRefuses names the TCP templates the listener cannot serve.
	listenerRefuses []string
}

// itemFate is what decide made of one queue item.
type itemFate struct {
	template string
	agent    string
	launch   int // index in decision.launches + 1 (0: none)
	waiting  string
	// excluded says why the item is no demand (pending, running).
	excluded string
}

type stageObs struct {
	template, stage string
	seconds         float64
}

// decide is the provider's pure step: from what one poll saw and the
// policy, what to do. It reads no clock (w.now is the poll's time) and does
// no I/O; every map it is given is left as it was.
func decide(w *world, pol policy) decision {
	d := decision{swarm: map[string]int{}, templates: map[string]*TemplateStatus{}, items: map[int64]*itemFate{}}
	for _, a := range w.agents {
		if a.swarm {
			continue // the RC and the swarm client own these
		}
		act := decideAgent(w, pol, a, &d)
		if act.op == opRemove {
			d.remove = append(d.remove, a)
		}
		d.agents = append(d.agents, act)
	}
	d.remove = append(d.remove, reapIdle(w, pol, d.agents)...)
	pol.backoffs = backoffsAfter(pol.backoffs, d.connected, d.agents, w.now)
	decideNodes(w, pol, &d)
	decideRequeues(w, pol, &d)
	decideLaunches(w, pol, &d)
	d.sentinel = decideSentinel(w, pol)
	return d
}

// stage records the duration of a stage from an annotation time (or def).
func (d *decision) stage(template, stage string, now time.Time, from string, def time.Time) {
	start := parseStamp(from, def)
	if start.IsZero() {
		return
	}
	d.stages = append(d.stages, stageObs{template: template, stage: stage, seconds: max(0, now.Sub(start).Seconds())})
}

// stateAfter is an agent's state once the decision is carried out.
func (d *decision) stateAfter(a *agent) string {
	for _, act := range d.agents {
		if act.agent == a {
			return act.state
		}
	}
	return a.state
}

// templateOfItem finds the configured template named name.
func templateNamed(c *config.Config, name string) (config.Template, bool) {
	for _, t := range c.Templates {
		if t.Name == name {
			return t, true
		}
	}
	return config.Template{}, false
}

// tcp reports whether agents of t connect to the TCP agent port.
func tcp(c *config.Config, t config.Template) bool {
	return t.Mode != config.ModeSwarm && !c.UsesWebSocket(t)
}

// listenerRefusal is why a TCP template launches nothing against this
// controller ("" when the listener serves TCP agents or was not read).
func listenerRefusal(l *jenkins.AgentListener) string {
	if l == nil || l.OffersJNLP4() {
		return ""
	}
	if !l.Enabled {
		return "the Jenkins controller's TCP agent port is disabled, so TCP agents cannot connect: enable it, or set webSocket: true"
	}
	return "the Jenkins controller does not offer JNLP4-connect to TCP agents (its agent listener offers " +
		protocols(l.Protocols) + "): install the instance-identity plugin, or set webSocket: true"
}

func protocols(ps []string) string {
	if len(ps) == 0 {
		return "nothing"
	}
	s := ps[0]
	for _, p := range ps[1:] {
		s += ", " + p
	}
	return s
}

// backoffsAfter is the back-offs once the connections and failures
// decided are recorded (a copy): a template with an agent that connected
// no longer backs off; one with an agent failing now launches nothing now.
func backoffsAfter(in map[string]backoff, connected []string, acts []agentAction, now time.Time) map[string]backoff {
	out := make(map[string]backoff, len(in))
	for k, v := range in {
		out[k] = v
	}
	for _, t := range connected {
		delete(out, t)
	}
	for _, x := range acts {
		if x.op == opFail && x.backOff {
			out[x.agent.template] = nextBackoff(out[x.agent.template], now, x.failReason+": "+x.failMsg)
		}
	}
	return out
}
