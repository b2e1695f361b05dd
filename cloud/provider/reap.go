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
	// AnnotationBuild is the URL of the build the agent was last seen
	// running: the build that is lost (and requeued) if the agent is.
	AnnotationBuild = "drover.io/jenkins-build"
	// AnnotationDoneAt is when a one-shot agent was first seen done with a
	// build that did not succeed (it is retired LostGrace later).
	AnnotationDoneAt = "drover.io/jenkins-done-at"
	// AnnotationIdleSince is when the agent last became idle.
	AnnotationIdleSince = "drover.io/jenkins-idle-since"
	// AnnotationOfflineSince is when the provider first saw a connected
	// agent offline (removed when it comes back online).
	AnnotationOfflineSince = "drover.io/jenkins-offline-since"
	// AnnotationRetiring is when the provider chose the agent for removal
	// (idle, its template removed, or done with its build); a pod that
	// carries it and goes is not lost.
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

// ours reports whether a Jenkins computer was made by the drover of namespace ns.
func ours(ns string, c *jenkins.Computer) bool {
	return strings.HasPrefix(c.Description, NodeDescriptionPrefix+" (") &&
		strings.HasSuffix(c.Description, ", namespace "+ns+")")
}

func (p *Provider) ours(c *jenkins.Computer) bool { return ours(p.ns, c) }

// templateOf returns the template named in one of our node descriptions.
func templateOf(desc string) string {
	rest, ok := strings.CutPrefix(desc, NodeDescriptionPrefix+" (template ")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, ",")
	return name
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
// no pod any more, and the orphan sweep deletes it later. A pod that had
// a build is marked retiring first, so that its going is not taken for a
// loss (by this provider or a restarted one).
func (p *Provider) retire(ctx context.Context, a *agent, now time.Time) error {
	if a.build() != "" && a.annotation(AnnotationRetiring) == "" && a.pod.DeletionTimestamp == nil {
		if err := p.patchPod(ctx, a.pod.Name, map[string]any{AnnotationRetiring: stamp(now)}); err != nil {
			return err
		}
	}
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
	if pod.DeletionTimestamp != nil {
		return nil
	}
	uid := pod.UID
	err := p.opts.Kube.CoreV1().Pods(p.ns).Delete(ctx, pod.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("provider: delete agent pod %s: %w", pod.Name, err)
	}
	return nil
}

// fail removes an agent that failed, records why (event, Status, metrics)
// and backs its template off when the failure says the template cannot
// start agents.
func (p *Provider) fail(ctx context.Context, x agentAction, now time.Time) error {
	a := x.agent
	if !p.wasRecorded(a.name) {
		p.log.Warn("agent failed; removing it", "agent", a.name, "template", a.template, "reason", x.failReason, "message", x.failMsg)
		p.recordFailure(now, a.template, a.name, x.failReason, x.failMsg, a.pod, x.backOff)
	}
	return p.retire(ctx, a, now)
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
	if p.opts.Recorder != nil && obj != nil {
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
	if backOff {
		p.backOff(now, template, reason+": "+msg)
	}
}

// backOff grows a template's back-off (nextBackoff). p.mu is held.
func (p *Provider) backOff(now time.Time, template, reason string) {
	var b backoff
	if old := p.backoff[template]; old != nil {
		b = *old
	}
	b = nextBackoff(b, now, reason)
	p.backoff[template] = &b
}

// nextBackoff is a template's back-off after a failure at now. The delay
// grows once per round of failures, not once per failed agent: agents
// failing in the same poll (or while the template backs off already) do
// not double it again.
func nextBackoff(b backoff, now time.Time, reason string) backoff {
	switch {
	case b.delay == 0:
		b.delay = BackoffInitial
	case !now.Before(b.until):
		b.delay = min(2*b.delay, BackoffMax)
	}
	if u := now.Add(b.delay); u.After(b.until) {
		b.until = u
	}
	b.reason = reason
	return b
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

// backoffs copies the back-offs for decide.
func (p *Provider) backoffs() map[string]backoff {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]backoff, len(p.backoff))
	for k, v := range p.backoff {
		out[k] = *v
	}
	return out
}
