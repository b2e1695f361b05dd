package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/drover-ci/drover/cloud/jenkins"
)

// Annotations on agent pods: what a restarted provider must know.
const (
	// AnnotationCreatedAt is when the provider created the pod (RFC 3339, ns).
	AnnotationCreatedAt = "drover.io/jenkins-created-at"
	// AnnotationRunningAt is when the provider first saw the pod Running.
	AnnotationRunningAt = "drover.io/jenkins-running-at"
	// AnnotationConnectedAt is when the provider first saw the agent online.
	AnnotationConnectedAt = "drover.io/jenkins-connected-at"
	// AnnotationBuildSeen is when the provider first saw the agent busy; on a
	// one-shot agent it means "took its build: remove when no longer busy".
	AnnotationBuildSeen = "drover.io/jenkins-build-seen"
	// AnnotationIdleSince is when the agent last became idle.
	AnnotationIdleSince = "drover.io/jenkins-idle-since"
	// AnnotationOfflineSince is when the provider first saw a connected
	// agent offline (removed when it comes back online).
	AnnotationOfflineSince = "drover.io/jenkins-offline-since"
	// AnnotationRetiring is when the provider chose the agent for removal
	// (idle, or its template removed) and took its node offline.
	AnnotationRetiring = "drover.io/jenkins-retiring"
)

// OneShotOfflineMessage is the offline message of a one-shot agent that took its build.
const OneShotOfflineMessage = "drover: one-shot agent, taking no more builds"

// IdleRemovalMessage is the offline message of an idle agent being removed.
const IdleRemovalMessage = "drover: idle agent being removed"

// NodeDescriptionPrefix starts the description of every Jenkins node the
// provider creates; with the namespace it identifies the nodes of this drover.
const NodeDescriptionPrefix = "drover Jenkins cloud agent"

// nodeDescription is the description of a node of template t.
func (p *Provider) nodeDescription(template string) string {
	return fmt.Sprintf("%s (template %s, namespace %s)", NodeDescriptionPrefix, template, p.ns)
}

// ours reports whether a Jenkins computer was made by this drover.
func (p *Provider) ours(c *jenkins.Computer) bool {
	return strings.HasPrefix(c.Description, NodeDescriptionPrefix+" (") &&
		strings.HasSuffix(c.Description, ", namespace "+p.ns+")")
}

// templateOf returns the template named in one of our node descriptions.
func templateOf(desc string) string {
	rest, ok := strings.CutPrefix(desc, NodeDescriptionPrefix+" (template ")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, ",")
	return name
}

// flushPatch writes an agent's pending annotation changes with a merge patch.
func (p *Provider) flushPatch(ctx context.Context, a *agent) error {
	if len(a.patch) == 0 || a.state == StateTerminating {
		return nil
	}
	patch := a.patch
	a.patch = nil
	return p.patchPod(ctx, a.pod.Name, patch)
}

// patchPod sets (string) or removes (nil) annotations of an agent pod.
func (p *Provider) patchPod(ctx context.Context, name string, annotations map[string]any) error {
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": annotations}})
	if err != nil {
		return err
	}
	_, err = p.opts.Kube.CoreV1().Pods(p.ns).Patch(ctx, name, types.MergePatchType, body, metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("provider: annotate agent pod %s: %w", name, err)
	}
	return nil
}

// retire deletes an agent's pod (the Secret goes with it through its
// ownerReference), then its Jenkins node: a node whose deletion fails has
// no pod any more, and the orphan sweep deletes it later.
func (p *Provider) retire(ctx context.Context, a *agent) error {
	a.state = StateTerminating
	a.patch = nil
	if err := p.deletePod(ctx, a.pod); err != nil {
		return err
	}
	return p.deleteNode(ctx, a.name)
}

func (p *Provider) deleteNode(ctx context.Context, name string) error {
	if err := p.opts.Jenkins.DeleteNode(ctx, name); err != nil && !errors.Is(err, jenkins.ErrNodeNotFound) {
		return fmt.Errorf("provider: delete Jenkins node %s: %w", name, err)
	}
	return nil
}

func (p *Provider) deletePod(ctx context.Context, pod *corev1.Pod) error {
	uid := pod.UID
	err := p.opts.Kube.CoreV1().Pods(p.ns).Delete(ctx, pod.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("provider: delete agent pod %s: %w", pod.Name, err)
	}
	return nil
}

// fail removes an agent that failed, records why (event, Status, metrics)
// and backs its template off.
func (p *Provider) fail(ctx context.Context, w *world, a *agent, reason, msg string) error {
	a.state, a.reason = StateTerminating, reason
	if p.wasRecorded(a.name) {
		// Recorded by an earlier sync whose removal did not finish.
		return p.retire(ctx, a)
	}
	p.log.Warn("agent failed; removing it", "agent", a.name, "template", a.template, "reason", reason, "message", msg)
	// An agent lost after it had connected says nothing about the
	// template's ability to start agents: no back-off.
	p.recordFailure(w.now, a.template, a.name, reason, msg, a.pod, reason != "PodLost" && reason != "AgentLost")
	return p.retire(ctx, a)
}

// launchFailed records a launch the API or Jenkins refused (reason
// LaunchFailed) and backs the template off, as fail does for an agent.
func (p *Provider) launchFailed(now time.Time, template, name string, err error) {
	p.log.Warn("agent launch failed", "agent", name, "template", template, "err", err)
	ref := &corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: p.ns, Name: name}
	p.recordFailure(now, template, name, "LaunchFailed", err.Error(), ref, true)
}

// recordFailure emits a warning event on obj, counts the failure, keeps it
// in Status.Failures and, when backOff, backs the template off.
func (p *Provider) recordFailure(now time.Time, template, name, reason, msg string, obj runtime.Object, backOff bool) {
	if p.opts.Recorder != nil {
		p.opts.Recorder.Event(obj, corev1.EventTypeWarning, reason, fmt.Sprintf("Jenkins agent %s: %s", name, msg))
	}
	if p.opts.Metrics != nil {
		p.opts.Metrics.Failures.WithLabelValues(template, reason).Inc()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.recorded[name] = true
	p.failures = append(p.failures, Failure{Time: now, Template: template, Agent: name, Reason: reason, Message: msg})
	if len(p.failures) > MaxFailures {
		p.failures = p.failures[len(p.failures)-MaxFailures:]
	}
	if !backOff {
		return
	}
	b := p.backoff[template]
	if b == nil {
		b = &backoff{}
		p.backoff[template] = b
	}
	// The delay grows once per round of failures, not once per failed
	// agent: agents failing in the same sync (or while the template backs
	// off already) do not double it again.
	switch {
	case b.delay == 0:
		b.delay = BackoffInitial
	case !now.Before(b.until):
		b.delay = min(2*b.delay, BackoffMax)
	}
	if u := now.Add(b.delay); u.After(b.until) {
		b.until = u
	}
	b.reason = reason + ": " + msg
}

// wasRecorded reports whether a failure of agent name was recorded already.
func (p *Provider) wasRecorded(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.recorded[name]
}

// pruneRecorded forgets the recorded failures of agents with neither a
// pod nor a Jenkins node any more.
func (p *Provider) pruneRecorded(w *world) {
	pods := map[string]bool{}
	for _, a := range w.agents {
		pods[a.name] = true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for name := range p.recorded {
		if w.comps[name] == nil && !pods[name] {
			delete(p.recorded, name)
		}
	}
}

func (p *Provider) resetBackoff(template string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.backoff[template]; ok {
		delete(p.backoff, template)
		p.log.Info("agent connected; template back-off reset", "template", template)
	}
}

// sweepNodes deletes our Jenkins nodes that have no agent pod and are not
// being launched: at once when busy (an agent lost mid-build: Jenkins then
// fails the build), else when the orphan sweep is due.
func (p *Provider) sweepNodes(ctx context.Context, w *world, sweep bool) error {
	pods := map[string]bool{}
	for _, a := range w.agents {
		if !a.swarm {
			pods[a.name] = true
		}
	}
	var errs []error
	for _, name := range w.order {
		c := w.comps[name]
		if !p.ours(c) || pods[name] {
			continue
		}
		p.mu.Lock()
		launching := p.launching[name]
		p.mu.Unlock()
		if launching {
			continue
		}
		tmpl := templateOf(c.Description)
		busy := len(c.Builds) > 0 || !c.Idle
		switch {
		case busy && p.wasRecorded(name):
			// Its failure is recorded (its pod removed by fail): only the
			// node deletion is left to do.
			p.log.Info("deleting the Jenkins node of a failed agent", "agent", name, "template", tmpl)
		case busy:
			p.log.Warn("agent pod lost mid-build; deleting its Jenkins node", "agent", name, "template", tmpl)
			msg := "agent pod gone while its agent was building"
			if p.opts.Metrics != nil {
				p.opts.Metrics.Failures.WithLabelValues(tmpl, "PodLost").Inc()
			}
			p.mu.Lock()
			p.recorded[name] = true
			p.failures = append(p.failures, Failure{Time: w.now, Template: tmpl, Agent: name, Reason: "PodLost", Message: msg})
			if len(p.failures) > MaxFailures {
				p.failures = p.failures[len(p.failures)-MaxFailures:]
			}
			p.mu.Unlock()
		case sweep:
			p.log.Info("deleting orphan Jenkins node (no agent pod)", "agent", name, "template", tmpl)
		default:
			continue
		}
		if err := p.deleteNode(ctx, name); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(w.comps, name)
	}
	return errors.Join(errs...)
}

// sweepSecrets deletes agent Secrets with no pod, older than SecretOrphanAge.
func (p *Provider) sweepSecrets(ctx context.Context, w *world) error {
	list, err := p.opts.Kube.CoreV1().Secrets(p.ns).List(ctx, metav1.ListOptions{LabelSelector: LabelAgent})
	if err != nil {
		return fmt.Errorf("provider: list agent secrets: %w", err)
	}
	pods := map[string]bool{}
	for _, a := range w.agents {
		pods[a.pod.Name] = true
	}
	var errs []error
	for i := range list.Items {
		s := &list.Items[i]
		p.mu.Lock()
		launching := p.launching[s.Name]
		p.mu.Unlock()
		if pods[s.Name] || launching || w.now.Sub(s.CreationTimestamp.Time) < SecretOrphanAge {
			continue
		}
		p.log.Info("deleting orphan agent Secret (no pod)", "secret", s.Name)
		uid := s.UID
		err := p.opts.Kube.CoreV1().Secrets(p.ns).Delete(ctx, s.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			errs = append(errs, fmt.Errorf("provider: delete agent secret %s: %w", s.Name, err))
		}
	}
	return errors.Join(errs...)
}
