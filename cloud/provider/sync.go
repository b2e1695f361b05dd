package provider

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cloud/config"
	"github.com/drover-ci/drover/cloud/jenkins"
	"github.com/drover-ci/drover/cloud/planner"
)

// Agent states (AgentStatus.State, Metrics.Agents' state label).
const (
	StatePending     = "pending"
	StateStarting    = "starting"
	StateIdle        = "idle"
	StateBusy        = "busy"
	StateTerminating = "terminating"
	// StateOffline is an agent that connected once and is now offline (its
	// connection lost) while its pod runs: neither coming nor idle; after
	// connectTimeout offline it is removed (failure AgentLost).
	StateOffline = "offline"
)

// agent is one agent pod and its Jenkins node as seen in this sync.
type agent struct {
	name     string
	template string
	pod      *corev1.Pod
	comp     *jenkins.Computer // nil: no such node
	state    string
	reason   string
	swarm    bool
	patch    map[string]any // annotations to set (string) or remove (nil)
}

// annotation reads an annotation, as patched in this sync if it was.
func (a *agent) annotation(key string) string {
	if v, ok := a.patch[key]; ok {
		s, _ := v.(string)
		return s
	}
	return a.pod.Annotations[key]
}

func (a *agent) annotate(key string, value any) {
	if a.patch == nil {
		a.patch = map[string]any{}
	}
	a.patch[key] = value
}

// connected reports whether the agent's node has ever been seen online.
func (a *agent) connected() bool { return a.annotation(AnnotationConnectedAt) != "" }

func (a *agent) busy() bool {
	return a.comp != nil && (len(a.comp.Builds) > 0 || !a.comp.Idle)
}

func (a *agent) online() bool { return a.comp != nil && !a.comp.Offline }

// world is what one sync read from Jenkins and the API.
type world struct {
	now    time.Time
	queue  []jenkins.QueueItem
	comps  map[string]*jenkins.Computer
	order  []string // computer names in Jenkins order
	agents []*agent // inbound and swarm agents, by pod name
	names  map[string]bool
	// swarmComps maps computers of swarm agents to their template.
	swarmComps map[string]string
}

// Sync runs one poll: read Jenkins and the API, handle every agent's
// transitions and failures, sweep orphans when due, launch what the plan
// says, scale swarm controllers and publish the Status. Run calls it every
// PollInterval; tests may call it directly (with a fake clock).
func (p *Provider) Sync(ctx context.Context) error {
	p.syncMu.Lock()
	defer p.syncMu.Unlock()
	now := p.clock.Now()
	queue, qerr := p.opts.Jenkins.Queue(ctx)
	var comps []jenkins.Computer
	var cerr error
	if qerr == nil {
		comps, cerr = p.opts.Jenkins.Computers(ctx)
	}
	if jerr := errors.Join(qerr, cerr); jerr != nil {
		p.publishJenkinsError(ctx, now, jerr)
		return fmt.Errorf("provider: %w", jerr)
	}
	w, err := p.observe(ctx, now, queue, comps)
	if err != nil {
		return err
	}
	var errs []error
	errs = append(errs, p.handleAgents(ctx, w))
	p.mu.Lock()
	sweep := p.lastSweep.IsZero() || now.Sub(p.lastSweep) >= p.opts.OrphanInterval
	p.mu.Unlock()
	errs = append(errs, p.sweepNodes(ctx, w, sweep))
	p.pruneRecorded(w)
	if sweep {
		if err := p.sweepSecrets(ctx, w); err != nil {
			errs = append(errs, err)
		} else {
			p.mu.Lock()
			p.lastSweep = now
			p.mu.Unlock()
		}
	}
	st, err := p.plan(ctx, w)
	errs = append(errs, err, p.labelProbe(ctx, w))
	errs = append(errs, p.publish(ctx, st))
	return errors.Join(errs...)
}

// observe reads the agent pods and pairs them with Jenkins' computers.
func (p *Provider) observe(ctx context.Context, now time.Time, queue []jenkins.QueueItem, comps []jenkins.Computer) (*world, error) {
	pods, err := p.opts.Kube.CoreV1().Pods(p.ns).List(ctx, metav1.ListOptions{LabelSelector: LabelTemplate})
	if err != nil {
		return nil, fmt.Errorf("provider: list agent pods: %w", err)
	}
	w := &world{now: now, queue: queue, comps: map[string]*jenkins.Computer{}, names: map[string]bool{},
		swarmComps: map[string]string{}}
	for i := range comps {
		c := &comps[i]
		w.comps[c.Name] = c
		w.order = append(w.order, c.Name)
		w.names[c.Name] = true
	}
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
	for i := range pods.Items {
		pod := &pods.Items[i]
		w.names[pod.Name] = true
		tmpl := pod.Labels[LabelTemplate]
		if t, ok := p.template(tmpl); ok && t.Mode == config.ModeSwarm {
			a := &agent{name: pod.Name, template: tmpl, pod: pod, swarm: true}
			for _, n := range w.order {
				if n == pod.Name || strings.HasPrefix(n, pod.Name+"-") {
					a.comp = w.comps[n]
					w.swarmComps[n] = tmpl
					break
				}
			}
			a.state = classify(a)
			w.agents = append(w.agents, a)
			continue
		}
		node := pod.Labels[LabelAgent]
		if node == "" {
			continue
		}
		a := &agent{name: node, template: tmpl, pod: pod, comp: w.comps[node]}
		a.state = classify(a)
		if a.state == StatePending {
			a.reason = waitingReason(pod)
		}
		w.agents = append(w.agents, a)
	}
	return w, nil
}

// classify gives an agent its state from Jenkins first (a node online is
// idle or busy whatever the pod's reported phase), then from the pod.
func classify(a *agent) string {
	switch {
	case a.pod.DeletionTimestamp != nil:
		return StateTerminating
	case a.busy():
		return StateBusy
	case a.online():
		return StateIdle
	case a.comp != nil && a.comp.TemporarilyOffline && (a.annotation(AnnotationBuildSeen) != "" || a.connected()):
		// A one-shot agent whose build is done (or a node taken offline in Jenkins).
		return StateTerminating
	}
	switch a.pod.Status.Phase {
	case corev1.PodRunning:
		if a.comp != nil && a.connected() {
			// Connected once, offline now: lost, not starting.
			return StateOffline
		}
		return StateStarting
	case corev1.PodFailed, corev1.PodSucceeded:
		return StateTerminating
	}
	return StatePending
}

// failing are the container waiting reasons that mean the agent cannot start.
var failing = map[string]bool{"ErrImagePull": true, "ImagePullBackOff": true, "ErrImageNeverPull": true,
	"InvalidImageName": true, "CreateContainerError": true, "CrashLoopBackOff": true,
	"CreateContainerConfigError": true}

// handleAgents records each agent's transitions in its pod's annotations and
// metrics, retires one-shot and idle agents, and reaps failures.
func (p *Provider) handleAgents(ctx context.Context, w *world) error {
	var errs []error
	idle := map[string][]*agent{}
	var remove []*agent // idle agents to remove (checked again first)
	for _, a := range w.agents {
		if a.state == StateTerminating && a.pod.DeletionTimestamp != nil {
			continue
		}
		if a.swarm {
			continue // the RC and the swarm client own these
		}
		t, ok := p.template(a.template)
		if !ok {
			// A template no longer configured: its agents go once not busy.
			switch {
			case a.comp == nil:
				a.state, a.reason = StateTerminating, "template no longer configured"
				p.log.Info("removing agent of a template no longer configured", "agent", a.name, "template", a.template)
				errs = append(errs, p.retire(ctx, a))
			case !a.busy():
				a.reason = "template no longer configured"
				remove = append(remove, a)
			}
			continue
		}
		if err := p.handleAgent(ctx, w, t, a); err != nil {
			errs = append(errs, err)
		}
		if a.state == StateIdle {
			idle[a.template] = append(idle[a.template], a)
		}
		if err := p.flushPatch(ctx, a); err != nil {
			errs = append(errs, err)
		}
	}
	remove = append(remove, p.reapIdle(w, idle, &errs)...)
	errs = append(errs, p.removeIdle(ctx, w, remove))
	return errors.Join(errs...)
}

func (p *Provider) handleAgent(ctx context.Context, w *world, t config.Template, a *agent) error {
	now := w.now
	if a.comp == nil {
		// The node is gone (deleted in Jenkins): the pod can never connect.
		a.state, a.reason = StateTerminating, "Jenkins node gone"
		p.log.Info("deleting agent pod whose Jenkins node is gone", "agent", a.name, "template", a.template)
		return p.deletePod(ctx, a.pod)
	}
	phase := a.pod.Status.Phase
	if phase == corev1.PodFailed || phase == corev1.PodSucceeded {
		switch {
		case a.busy():
			return p.fail(ctx, w, a, "PodLost", fmt.Sprintf("pod %s while its agent was building: %s", phase, podMessage(a.pod)))
		case a.connected() || a.annotation(AnnotationBuildSeen) != "":
			a.state, a.reason = StateTerminating, "pod ended"
			return p.retire(ctx, a)
		default:
			return p.fail(ctx, w, a, "PodFailed", fmt.Sprintf("pod %s before its agent connected: %s", phase, podMessage(a.pod)))
		}
	}
	if a.annotation(AnnotationRetiring) != "" && !a.busy() {
		// Chosen for removal while idle, then took a build: done now.
		a.state, a.reason = StateTerminating, "idle agent being removed"
		p.log.Info("removing agent marked for removal, now idle", "agent", a.name, "template", a.template)
		return p.retire(ctx, a)
	}
	if phase == corev1.PodRunning && a.annotation(AnnotationRunningAt) == "" {
		a.annotate(AnnotationRunningAt, stamp(now))
		p.observeStage(t.Name, StageRunning, now, a.annotation(AnnotationCreatedAt), a.pod.CreationTimestamp.Time)
	}
	if a.online() || a.busy() {
		if !a.connected() {
			a.annotate(AnnotationConnectedAt, stamp(now))
			from := a.annotation(AnnotationRunningAt)
			if from == "" {
				from = a.annotation(AnnotationCreatedAt)
			}
			p.observeStage(t.Name, StageConnected, now, from, a.pod.CreationTimestamp.Time)
			p.resetBackoff(t.Name)
		}
		if a.annotation(AnnotationOfflineSince) != "" {
			a.annotate(AnnotationOfflineSince, nil)
			p.log.Info("agent back online", "agent", a.name, "template", t.Name)
		}
	} else if a.state == StateOffline {
		if t.IdleMinutes == 0 && a.annotation(AnnotationBuildSeen) != "" {
			a.state, a.reason = StateTerminating, "one-shot agent done"
			return p.retire(ctx, a)
		}
		since := a.annotation(AnnotationOfflineSince)
		if since == "" {
			a.annotate(AnnotationOfflineSince, stamp(now))
			a.reason = "offline since " + stamp(now)
			p.log.Warn("connected agent went offline", "agent", a.name, "template", t.Name)
			return nil
		}
		a.reason = "offline since " + since
		if limit := p.connectTimeout(t); now.Sub(parseStamp(since, now)) > limit {
			return p.fail(ctx, w, a, "AgentLost", fmt.Sprintf("agent offline for more than %s after it had connected (since %s)", limit, since))
		}
		return nil
	} else if !a.connected() && a.state != StateTerminating {
		if reason, msg := waitingFailure(a.pod); reason != "" {
			return p.fail(ctx, w, a, reason, msg)
		}
		created := parseStamp(a.annotation(AnnotationCreatedAt), a.pod.CreationTimestamp.Time)
		if a.state == StatePending {
			if limit := pendingTimeout(t); now.Sub(created) > limit {
				return p.fail(ctx, w, a, "PendingTimeout", fmt.Sprintf("pod Pending for more than %s: %s", limit, podMessage(a.pod)))
			}
		}
		if a.state == StateStarting {
			since := parseStamp(a.annotation(AnnotationRunningAt), created)
			if limit := p.connectTimeout(t); now.Sub(since) > limit {
				return p.fail(ctx, w, a, "ConnectTimeout", fmt.Sprintf("agent running for more than %s without connecting to Jenkins", limit))
			}
		}
	}
	if a.busy() {
		if a.annotation(AnnotationBuildSeen) == "" {
			a.annotate(AnnotationBuildSeen, stamp(now))
			p.observeStage(t.Name, StageBuildStarted, now, a.annotation(AnnotationConnectedAt), now)
		}
		if a.annotation(AnnotationIdleSince) != "" {
			a.annotate(AnnotationIdleSince, nil)
		}
		if t.IdleMinutes == 0 && !a.comp.TemporarilyOffline {
			if err := p.opts.Jenkins.SetOffline(ctx, a.name, OneShotOfflineMessage); err != nil && !errors.Is(err, jenkins.ErrNodeNotFound) {
				return fmt.Errorf("provider: one-shot agent %s: %w", a.name, err)
			}
			p.log.Info("one-shot agent took its build; marked temporarily offline", "agent", a.name, "template", t.Name)
		}
		return nil
	}
	// A one-shot agent no longer busy after its build; also one marked
	// offline by a provider that stopped before it recorded the build.
	if t.IdleMinutes == 0 && (a.annotation(AnnotationBuildSeen) != "" || (a.comp.TemporarilyOffline && a.connected())) {
		a.state, a.reason = StateTerminating, "one-shot agent done"
		p.log.Info("one-shot agent finished its build; removing it", "agent", a.name, "template", t.Name)
		return p.retire(ctx, a)
	}
	if a.state == StateIdle && a.annotation(AnnotationIdleSince) == "" {
		a.annotate(AnnotationIdleSince, stamp(now))
	}
	return nil
}

// reapIdle chooses the idle agents past their idle time, keeping each
// template's warm pool (minIdle in force now); removeIdle removes them.
func (p *Provider) reapIdle(w *world, idle map[string][]*agent, errs *[]error) []*agent {
	var out []*agent
	for name, list := range idle {
		t, _ := p.template(name)
		keep, err := planner.MinIdleAt(t, w.now)
		if err != nil {
			*errs = append(*errs, err)
			continue
		}
		limit := time.Duration(t.IdleMinutes) * time.Minute
		if t.IdleMinutes == 0 {
			limit = DefaultOneShotIdle
		}
		// Oldest idle first.
		sort.Slice(list, func(i, j int) bool {
			return list[i].annotation(AnnotationIdleSince) < list[j].annotation(AnnotationIdleSince)
		})
		removable := len(list) - keep
		for _, a := range list {
			if removable <= 0 {
				break
			}
			since := a.annotation(AnnotationIdleSince)
			if since == "" {
				continue // set in this sync
			}
			if w.now.Sub(parseStamp(since, w.now)) < limit {
				continue
			}
			removable--
			a.reason = "idle for more than " + limit.String()
			out = append(out, a)
		}
	}
	return out
}

// removeIdle removes agents chosen while idle from the snapshot read at the
// start of the sync, without killing a build Jenkins assigned meanwhile:
// each is marked (AnnotationRetiring) and taken temporarily offline, then
// the computers are read again (once for the batch) and only those still
// idle are deleted. One that took a build keeps it (offline, it takes no
// more) and handleAgent retires it once idle.
func (p *Provider) removeIdle(ctx context.Context, w *world, list []*agent) error {
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
				a.state = StateTerminating
				errs = append(errs, p.retire(ctx, a))
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
		// Marked: handleAgent retires them in a later sync once idle.
		return errors.Join(append(errs, fmt.Errorf("provider: read computers before removing idle agents: %w", err))...)
	}
	byName := map[string]*jenkins.Computer{}
	for i := range comps {
		byName[comps[i].Name] = &comps[i]
	}
	for _, a := range marked {
		if c := byName[a.name]; c != nil && (len(c.Builds) > 0 || !c.Idle) {
			a.comp, a.state, a.reason = c, StateBusy, "took a build while being removed; removed when it ends"
			p.log.Info("idle agent took a build while being removed; keeping it until the build ends", "agent", a.name, "template", a.template)
			continue
		}
		a.state = StateTerminating
		p.log.Info("removing idle agent", "agent", a.name, "template", a.template, "reason", a.reason)
		errs = append(errs, p.retire(ctx, a))
	}
	return errors.Join(errs...)
}

// waitingReason is the first waiting reason of the pod's containers.
func waitingReason(pod *corev1.Pod) string {
	for _, cs := range append(append([]corev1.ContainerStatus(nil), pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
		if cs.State.Waiting != nil && cs.State.Waiting.Reason != "" {
			return cs.State.Waiting.Reason
		}
	}
	return ""
}

func waitingFailure(pod *corev1.Pod) (string, string) {
	statuses := append(append([]corev1.ContainerStatus(nil), pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
	for _, cs := range statuses {
		if w := cs.State.Waiting; w != nil && failing[w.Reason] {
			return w.Reason, fmt.Sprintf("container %s: %s: %s", cs.Name, w.Reason, w.Message)
		}
	}
	return "", ""
}

// podMessage summarises why a pod is where it is (container states).
func podMessage(pod *corev1.Pod) string {
	var parts []string
	if pod.Status.Reason != "" || pod.Status.Message != "" {
		parts = append(parts, strings.TrimSpace(pod.Status.Reason+" "+pod.Status.Message))
	}
	statuses := append(append([]corev1.ContainerStatus(nil), pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
	for _, cs := range statuses {
		switch {
		case cs.State.Terminated != nil:
			tt := cs.State.Terminated
			parts = append(parts, fmt.Sprintf("container %s terminated: %s (exit code %d) %s", cs.Name, tt.Reason, tt.ExitCode, tt.Message))
		case cs.State.Waiting != nil:
			parts = append(parts, fmt.Sprintf("container %s waiting: %s %s", cs.Name, cs.State.Waiting.Reason, cs.State.Waiting.Message))
		}
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			parts = append(parts, fmt.Sprintf("not scheduled: %s %s", c.Reason, c.Message))
		}
	}
	if len(parts) == 0 {
		return "phase " + string(pod.Status.Phase)
	}
	return strings.TrimSpace(strings.Join(parts, "; "))
}

func pendingTimeout(t config.Template) time.Duration {
	if d := t.PendingTimeout.Duration; d > 0 {
		return d
	}
	return DefaultPendingTimeout
}

func (p *Provider) connectTimeout(t config.Template) time.Duration {
	if d := t.ConnectTimeout.Duration; d > 0 {
		return d
	}
	if d := p.cfg.ConnectTimeout.Duration; d > 0 {
		return d
	}
	return DefaultConnectTimeout
}

// stamp formats a time for an annotation.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// parseStamp reads an annotation time, def when absent or bad.
func parseStamp(s string, def time.Time) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t
	}
	return def
}

// observeStage records a stage's duration from an annotation time (or def).
func (p *Provider) observeStage(template, stage string, now time.Time, from string, def time.Time) {
	if p.opts.Metrics == nil {
		return
	}
	start := parseStamp(from, def)
	if start.IsZero() {
		return
	}
	p.opts.Metrics.Stage.WithLabelValues(template, stage).Observe(max(0, now.Sub(start).Seconds()))
}
