package provider

import (
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover-ci/drover/cloud/config"
	"github.com/drover-ci/drover/cloud/planner"
)

// Agent operations (agentAction.op).
const (
	opNone      = ""
	opRetire    = "retire"     // delete pod and node
	opDeletePod = "delete-pod" // the node is gone already
	opFail      = "fail"       // record the failure, then retire
	opRemove    = "remove"     // idle: take offline, check, retire
)

// LostGrace is how long a one-shot agent whose build did not succeed is
// kept after the build ended before it is retired as done: long enough
// for its pod to show whether the agent was lost (container killed) or the
// build failed by itself. A node agent writes a SIGKILLed container's status
// up to 5 s after the exit (it waits for Docker's OOM flag), and the pod then
// reaches this provider's watch and its next round.
const LostGrace = 8 * time.Second

// agentAction is what to do with one agent.
type agentAction struct {
	agent *agent
	// state and reason are the agent's once the action is done.
	state, reason string
	// patch sets (string) or removes (nil) annotations.
	patch map[string]any
	// offline takes the node temporarily offline with this message.
	offline string
	op      string
	// failure: its reason and message, and whether the template backs off.
	failReason, failMsg string
	backOff             bool
}

func (x *agentAction) annotate(key string, value any) {
	if x.patch == nil {
		x.patch = map[string]any{}
	}
	x.patch[key] = value
}

// annotation reads an annotation as this action leaves it.
func (x *agentAction) annotation(key string) string {
	if v, ok := x.patch[key]; ok {
		s, _ := v.(string)
		return s
	}
	return x.agent.annotation(key)
}

func (x *agentAction) end(op, reason string) agentAction {
	x.op, x.state, x.reason = op, StateTerminating, reason
	x.patch = nil
	return *x
}

func (x *agentAction) fail(reason, msg string, backOff bool) agentAction {
	x.failReason, x.failMsg, x.backOff = reason, msg, backOff
	return x.end(opFail, reason)
}

// decideAgent decides one inbound agent's transitions, failures and
// retirement (the rules of the old handleAgent, without I/O).
func decideAgent(w *world, pol policy, a *agent, d *decision) agentAction {
	x := agentAction{agent: a, state: a.state, reason: a.reason}
	t, ok := templateNamed(pol.cfg, a.template)
	if !ok {
		return decideOrphanTemplate(&x)
	}
	if lost, ok := decideLost(w, t, &x, d); ok {
		return lost
	}
	if a.state == StateTerminating && a.pod.DeletionTimestamp != nil {
		return x
	}
	if a.comp == nil {
		return x.end(opDeletePod, "Jenkins node gone")
	}
	phase := a.pod.Status.Phase
	if phase == corev1.PodFailed || phase == corev1.PodSucceeded {
		if a.connected() || a.build() != "" {
			return x.end(opRetire, "pod ended")
		}
		return x.fail("PodFailed", fmt.Sprintf("pod %s before its agent connected: %s", phase, podMessage(a.pod)), true)
	}
	if a.annotation(AnnotationRetiring) != "" && !a.busy() {
		return x.end(opRetire, "idle agent being removed")
	}
	if phase == corev1.PodRunning && a.annotation(AnnotationRunningAt) == "" {
		x.annotate(AnnotationRunningAt, stamp(w.now))
		d.stage(t.Name, StageRunning, w.now, a.annotation(AnnotationCreatedAt), a.pod.CreationTimestamp.Time)
	}
	switch {
	case a.online() || a.busy():
		markConnected(w, t, &x, d)
	case a.state == StateOffline:
		return decideOffline(w, pol, t, &x)
	case !a.connected() && a.state != StateTerminating:
		if done, ok := decideStarting(w, pol, t, &x); ok {
			return done
		}
	}
	if a.busy() {
		return decideBusy(w, t, &x, d)
	}
	return decideNotBusy(w, t, &x)
}

// decideOrphanTemplate: a template no longer configured: its agents go
// once not busy.
func decideOrphanTemplate(x *agentAction) agentAction {
	a := x.agent
	switch {
	case a.state == StateTerminating && a.pod.DeletionTimestamp != nil:
		return *x
	case a.comp == nil:
		return x.end(opRetire, "template no longer configured")
	case !a.busy():
		x.op, x.reason = opRemove, "template no longer configured"
	}
	return *x
}

// decideLost makes an agent that had a build and whose pod is gone or
// going, or whose node is lost, an AgentLost failure, and its build a lost
// build of the ledger (once: a build already in the ledger is not lost
// again).
func decideLost(w *world, t config.Template, x *agentAction, d *decision) (agentAction, bool) {
	a := x.agent
	build := a.build()
	if build == "" && a.busy() && len(a.comp.Builds) > 0 {
		build = a.comp.Builds[0]
	}
	if build == "" {
		return agentAction{}, false
	}
	reason, msg := lostReason(a, w.nodes)
	if reason == "" {
		return agentAction{}, false
	}
	if _, known := w.ledger[build]; known || d.hasLost(build) {
		return x.end(opRetire, "lost ("+reason+")"), true
	}
	d.lost = append(d.lost, lostBuild{Build: build, Template: t.Name, Agent: a.name, Reason: reason,
		LostAt: w.now, State: ledgerLost, Attempt: attempt(w, a, build), Retries: t.Retries()})
	return x.fail("AgentLost", fmt.Sprintf("%s: %s (build %s)", reason, msg, build), false), true
}

func (d *decision) hasLost(build string) bool {
	for _, l := range d.lost {
		if l.Build == build {
			return true
		}
	}
	return false
}

// markConnected records the first time an agent is seen online and clears
// an offline mark.
func markConnected(w *world, t config.Template, x *agentAction, d *decision) {
	a := x.agent
	if !a.connected() {
		x.annotate(AnnotationConnectedAt, stamp(w.now))
		from := x.annotation(AnnotationRunningAt)
		if from == "" {
			from = a.annotation(AnnotationCreatedAt)
		}
		d.stage(t.Name, StageConnected, w.now, from, a.pod.CreationTimestamp.Time)
		d.connected = append(d.connected, t.Name)
	}
	if a.annotation(AnnotationOfflineSince) != "" {
		x.annotate(AnnotationOfflineSince, nil)
	}
}

// decideOffline handles an agent that connected once and is offline now.
func decideOffline(w *world, pol policy, t config.Template, x *agentAction) agentAction {
	a := x.agent
	if t.IdleMinutes == 0 && a.annotation(AnnotationBuildSeen) != "" {
		return x.end(opRetire, "one-shot agent done")
	}
	since := a.annotation(AnnotationOfflineSince)
	if since == "" {
		x.annotate(AnnotationOfflineSince, stamp(w.now))
		x.reason = "offline since " + stamp(w.now)
		return *x
	}
	x.reason = "offline since " + since
	if limit := connectTimeout(pol.cfg, t); w.now.Sub(parseStamp(since, w.now)) > limit {
		return x.fail("AgentLost", fmt.Sprintf("agent offline for more than %s after it had connected (since %s)", limit, since), false)
	}
	return *x
}

// decideStarting fails an agent that cannot start or takes too long.
func decideStarting(w *world, pol policy, t config.Template, x *agentAction) (agentAction, bool) {
	a := x.agent
	if reason, msg := waitingFailure(a.pod); reason != "" {
		return x.fail(reason, msg, true), true
	}
	created := parseStamp(a.annotation(AnnotationCreatedAt), a.pod.CreationTimestamp.Time)
	if a.state == StatePending {
		if limit := pendingTimeout(t); w.now.Sub(created) > limit {
			return x.fail("PendingTimeout", fmt.Sprintf("pod Pending for more than %s: %s", limit, podMessage(a.pod)), true), true
		}
	}
	if a.state == StateStarting {
		since := parseStamp(x.annotation(AnnotationRunningAt), created)
		if limit := connectTimeout(pol.cfg, t); w.now.Sub(since) > limit {
			return x.fail("ConnectTimeout", fmt.Sprintf("agent running for more than %s without connecting to Jenkins", limit), true), true
		}
	}
	return agentAction{}, false
}

// decideBusy remembers the build a busy agent runs (so that its loss can
// requeue it) and takes a one-shot agent offline for further builds.
func decideBusy(w *world, t config.Template, x *agentAction, d *decision) agentAction {
	a := x.agent
	if a.annotation(AnnotationBuildSeen) == "" {
		x.annotate(AnnotationBuildSeen, stamp(w.now))
		d.stage(t.Name, StageBuildStarted, w.now, x.annotation(AnnotationConnectedAt), w.now)
	}
	if len(a.comp.Builds) > 0 && a.build() != a.comp.Builds[0] {
		x.annotate(AnnotationBuild, a.comp.Builds[0])
	}
	if a.annotation(AnnotationIdleSince) != "" {
		x.annotate(AnnotationIdleSince, nil)
	}
	if t.IdleMinutes == 0 && !a.comp.TemporarilyOffline {
		x.offline = OneShotOfflineMessage
	}
	return *x
}

// decideNotBusy retires a one-shot agent whose build is done — at once when
// the build succeeded, else after LostGrace, so that a lost agent's pod can
// show it was lost — and marks idle agents idle.
func decideNotBusy(w *world, t config.Template, x *agentAction) agentAction {
	a := x.agent
	done := a.annotation(AnnotationBuildSeen) != "" || (a.comp.TemporarilyOffline && a.connected())
	if t.IdleMinutes == 0 && done {
		if b, ok := w.builds[a.build()]; a.build() != "" && !(ok && b.Result == "SUCCESS") {
			since := a.annotation(AnnotationDoneAt)
			if since == "" {
				x.annotate(AnnotationDoneAt, stamp(w.now))
				x.state, x.reason = StateTerminating, "build ended; checking the agent was not lost"
				return *x
			}
			if w.now.Sub(parseStamp(since, w.now)) < LostGrace {
				x.state, x.reason = StateTerminating, "build ended; checking the agent was not lost"
				return *x
			}
		}
		return x.end(opRetire, "one-shot agent done")
	}
	if a.state == StateIdle && a.annotation(AnnotationIdleSince) == "" {
		x.annotate(AnnotationIdleSince, stamp(w.now))
	}
	return *x
}

// reapIdle chooses the idle agents past their idle time, keeping each
// template's warm pool (minIdle in force now).
func reapIdle(w *world, pol policy, acts []agentAction) []*agent {
	idle := map[string][]*agentAction{}
	for i := range acts {
		x := &acts[i]
		if x.state == StateIdle && x.op == opNone {
			idle[x.agent.template] = append(idle[x.agent.template], x)
		}
	}
	var out []*agent
	names := make([]string, 0, len(idle))
	for n := range idle {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		out = append(out, reapTemplate(w, pol, name, idle[name])...)
	}
	return out
}

func reapTemplate(w *world, pol policy, name string, list []*agentAction) []*agent {
	t, _ := templateNamed(pol.cfg, name)
	keep, err := planner.MinIdleAt(t, w.now)
	if err != nil {
		return nil
	}
	limit := time.Duration(t.IdleMinutes) * time.Minute
	if t.IdleMinutes == 0 {
		limit = DefaultOneShotIdle
	}
	sort.SliceStable(list, func(i, j int) bool {
		return list[i].agent.annotation(AnnotationIdleSince) < list[j].agent.annotation(AnnotationIdleSince)
	})
	var out []*agent
	removable := len(list) - keep
	for _, x := range list {
		if removable <= 0 {
			break
		}
		since := x.agent.annotation(AnnotationIdleSince)
		if since == "" || w.now.Sub(parseStamp(since, w.now)) < limit {
			continue // set in this poll, or not idle long enough
		}
		removable--
		x.op, x.reason = opRemove, "idle for more than "+limit.String()
		out = append(out, x.agent)
	}
	return out
}
