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

	"github.com/drover-ci/drover/agents/render"
	"github.com/drover-ci/drover/cloud/config"
	"github.com/drover-ci/drover/cloud/jenkins"
)

// world is what one poll read from Jenkins and the API: the only input of
// decide besides the configuration and the provider's back-offs.
type world struct {
	now    time.Time
	queue  []jenkins.QueueItem
	comps  map[string]*jenkins.Computer
	order  []string // computer names in Jenkins order
	agents []*agent // inbound and swarm agents, by pod name
	// listener is the controller's TCP agent listener (nil: not read).
	listener *jenkins.AgentListener
	// claims are the cache claims, by name.
	claims map[string]*corev1.PersistentVolumeClaim
	// nodes are the API's nodes by name (nil: not read).
	nodes map[string]*corev1.Node
	// builds are the builds read for agents that ended or lost theirs and
	// for lost builds of the ledger, by URL.
	builds map[string]jenkins.Build
	// ledger is the requeue ledger (RequeueConfigMap), by build URL.
	ledger map[string]lostBuild
	// launching are the agent names whose launch has not finished.
	launching map[string]bool
}

// agent is one agent pod and its Jenkins node as seen in this poll.
type agent struct {
	name     string
	template string
	pod      *corev1.Pod
	comp     *jenkins.Computer // nil: no such node
	state    string
	reason   string
	swarm    bool
}

func (a *agent) annotation(key string) string { return a.pod.Annotations[key] }

// connected reports whether the agent's node has ever been seen online.
func (a *agent) connected() bool { return a.annotation(AnnotationConnectedAt) != "" }

func (a *agent) busy() bool {
	return a.comp != nil && (len(a.comp.Builds) > 0 || !a.comp.Idle)
}

func (a *agent) online() bool { return a.comp != nil && !a.comp.Offline }

// build is the build the agent was last seen running (AnnotationBuild).
func (a *agent) build() string { return a.annotation(AnnotationBuild) }

// observe reads Jenkins and the API into one world. The computers are read
// before the queue: an item still listed, and not pending, after the
// computers were read cannot be running on any agent they showed, so
// counting it as demand never launches a surplus agent whatever happens
// between the two reads.
func (p *Provider) observe(ctx context.Context, now time.Time) (*world, error) {
	comps, err := p.opts.Jenkins.Computers(ctx)
	if err != nil {
		return nil, jenkinsErr(err)
	}
	queue, err := p.opts.Jenkins.Queue(ctx)
	if err != nil {
		return nil, jenkinsErr(err)
	}
	w := &world{now: now, queue: queue, comps: map[string]*jenkins.Computer{}, builds: map[string]jenkins.Build{},
		launching: p.launchingNow()}
	for i := range comps {
		c := &comps[i]
		w.comps[c.Name] = c
		w.order = append(w.order, c.Name)
	}
	w.listener = p.agentListener(ctx, now)
	if err := p.observeAPI(ctx, w); err != nil {
		return nil, err
	}
	p.observeBuilds(ctx, w)
	return w, nil
}

// observeAPI reads the agent pods (paired with their computers), the cache
// claims, the nodes and the requeue ledger.
func (p *Provider) observeAPI(ctx context.Context, w *world) error {
	core := p.opts.Kube.CoreV1()
	pods, err := core.Pods(p.ns).List(ctx, metav1.ListOptions{LabelSelector: render.LabelTemplate})
	if err != nil {
		return fmt.Errorf("provider: list agent pods: %w", err)
	}
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
	for i := range pods.Items {
		if a := p.pairAgent(w, &pods.Items[i]); a != nil {
			w.agents = append(w.agents, a)
		}
	}
	if p.hasCaches() {
		claims, err := core.PersistentVolumeClaims(p.ns).List(ctx, metav1.ListOptions{LabelSelector: render.LabelCache})
		if err != nil {
			return fmt.Errorf("provider: list cache claims: %w", err)
		}
		w.claims = map[string]*corev1.PersistentVolumeClaim{}
		for i := range claims.Items {
			w.claims[claims.Items[i].Name] = &claims.Items[i]
		}
	}
	if nodes, err := core.Nodes().List(ctx, metav1.ListOptions{}); err == nil {
		w.nodes = map[string]*corev1.Node{}
		for i := range nodes.Items {
			w.nodes[nodes.Items[i].Name] = &nodes.Items[i]
		}
	}
	ledger, err := p.readLedger(ctx)
	if err != nil {
		return err
	}
	w.ledger = ledger
	return nil
}

// pairAgent makes the agent of one pod (nil for a pod that is no agent).
func (p *Provider) pairAgent(w *world, pod *corev1.Pod) *agent {
	tmpl := pod.Labels[render.LabelTemplate]
	if t, ok := p.template(tmpl); ok && t.Mode == config.ModeSwarm {
		a := &agent{name: pod.Name, template: tmpl, pod: pod, swarm: true}
		for _, n := range w.order {
			if n == pod.Name || strings.HasPrefix(n, pod.Name+"-") {
				a.comp = w.comps[n]
				break
			}
		}
		a.state = classify(a)
		return a
	}
	node := pod.Labels[render.LabelAgent]
	if node == "" {
		return nil
	}
	a := &agent{name: node, template: tmpl, pod: pod, comp: w.comps[node]}
	a.state = classify(a)
	if a.state == StatePending {
		a.reason = waitingReason(pod)
	}
	return a
}

// observeBuilds reads the builds decide needs: those of agents no longer
// busy or whose pod ended or goes, of busy nodes whose pod is gone, and of
// ledger entries still waiting for their build to end.
func (p *Provider) observeBuilds(ctx context.Context, w *world) {
	want := map[string]bool{}
	pods := map[string]bool{}
	for _, a := range w.agents {
		pods[a.name] = true
		if b := a.build(); b != "" && !a.busy() {
			want[b] = true
		}
	}
	for _, name := range w.order {
		if c := w.comps[name]; !pods[name] && p.ours(c) {
			for _, b := range c.Builds {
				want[b] = true
			}
		}
	}
	for url, e := range w.ledger {
		if e.State == ledgerLost {
			want[url] = true
		}
	}
	var errs []error
	for url := range want {
		b, err := p.opts.Jenkins.Build(ctx, url)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		w.builds[url] = b
	}
	if err := errors.Join(errs...); err != nil {
		p.log.Debug("could not read some builds", "err", err)
	}
}

func (p *Provider) hasCaches() bool {
	for _, t := range p.cfg.Templates {
		if len(t.Caches) > 0 {
			return true
		}
	}
	return false
}

// ListenerRefresh is how often the agent listener's headers are read again.
const ListenerRefresh = 10 * time.Second

// agentListener returns the controller's agent listener, read again when
// older than ListenerRefresh (nil while it could never be read).
func (p *Provider) agentListener(ctx context.Context, now time.Time) *jenkins.AgentListener {
	p.mu.Lock()
	l, at := p.listener, p.listenerAt
	p.mu.Unlock()
	if l != nil && now.Sub(at) < ListenerRefresh && !now.Before(at) {
		return l
	}
	got, err := p.opts.Jenkins.AgentListener(ctx)
	if err != nil {
		p.log.Debug("could not read the agent listener", "err", err)
		return l
	}
	p.mu.Lock()
	p.listener, p.listenerAt = &got, now
	p.mu.Unlock()
	return &got
}
