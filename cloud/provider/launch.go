package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/drover-ci/drover/agents/render"
	"github.com/drover-ci/drover/cloud/config"
	"github.com/drover-ci/drover/cloud/jenkins"
	"github.com/drover-ci/drover/cloud/planner"
)

// nodeName returns a fresh `<template>-<5 random [a-z0-9]>` name not in taken.
func nodeName(template string, taken map[string]bool) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	for {
		b := make([]byte, 5)
		for i := range b {
			b[i] = alphabet[rand.IntN(len(alphabet))]
		}
		n := template + "-" + string(b)
		if !taken[n] {
			taken[n] = true
			return n
		}
	}
}

// launch creates one agent: the Jenkins node, its Secret, the pod, then the
// Secret's ownerReference to the pod. A failing step undoes the earlier ones.
func (p *Provider) launch(ctx context.Context, t config.Template, l launch, decided time.Time, name string) (*corev1.Pod, error) {
	p.setLaunching(name, true)
	defer p.setLaunching(name, false)
	spec := jenkins.NodeSpec{Name: name, Description: p.nodeDescription(t.Name), RemoteFS: render.RemoteFS(t),
		Labels: t.Labels(), Executors: 1, WebSocket: p.cfg.UsesWebSocket(t), Mode: planner.NodeMode(t.Label)}
	if err := p.opts.Jenkins.CreateInboundNode(ctx, spec); err != nil {
		return nil, fmt.Errorf("provider: launch %s: %w", name, err)
	}
	secret, err := p.opts.Jenkins.AgentSecret(ctx, name)
	if err != nil {
		return p.undo(ctx, name, err, false)
	}
	labels := map[string]string{render.LabelAgent: name, render.LabelTemplate: t.Name}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: p.ns, Labels: labels},
		Type: corev1.SecretTypeOpaque, Data: map[string][]byte{render.SecretKey: []byte(secret)}}
	if _, err := p.opts.Kube.CoreV1().Secrets(p.ns).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		return p.undo(ctx, name, fmt.Errorf("create secret: %w", err), false)
	}
	a := render.Agent{Namespace: p.ns, Node: name, Caches: l.caches,
		Annotations: map[string]string{AnnotationCreatedAt: stamp(p.clock.Now())}}
	if l.item != nil {
		a.QueueItem = l.item.ID
	}
	got, err := p.opts.Kube.CoreV1().Pods(p.ns).Create(ctx, render.AgentPod(p.cfg, t, a), metav1.CreateOptions{})
	if err != nil {
		return p.undo(ctx, name, fmt.Errorf("create pod: %w", err), true)
	}
	owner, _ := json.Marshal(map[string]any{"metadata": map[string]any{"ownerReferences": []metav1.OwnerReference{{
		APIVersion: "v1", Kind: "Pod", Name: got.Name, UID: got.UID}}}})
	if _, err := p.opts.Kube.CoreV1().Secrets(p.ns).Patch(ctx, name, types.MergePatchType, owner, metav1.PatchOptions{}); err != nil {
		// Not fatal: the orphan sweep deletes the Secret once the pod is gone.
		p.log.Warn("could not make the agent pod own its Secret", "agent", name, "err", err)
	}
	if m := p.opts.Metrics; m != nil {
		m.Launched.WithLabelValues(t.Name).Inc()
		if l.item != nil && !l.item.InQueueSince.IsZero() {
			m.Stage.WithLabelValues(t.Name, StageDecided).Observe(max(0, decided.Sub(l.item.InQueueSince).Seconds()))
		}
		m.Stage.WithLabelValues(t.Name, StagePodCreated).Observe(max(0, p.clock.Now().Sub(decided).Seconds()))
	}
	p.log.Info("launched Jenkins agent", "agent", name, "template", t.Name, "queueItem", a.QueueItem)
	return got, nil
}

// undo removes what a failed launch made (the Secret when secret) and
// returns the launch error.
func (p *Provider) undo(ctx context.Context, name string, err error, secret bool) (*corev1.Pod, error) {
	// The context may be the one that just ended: undo with a fresh one.
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	errs := []error{err}
	if secret {
		if derr := p.opts.Kube.CoreV1().Secrets(p.ns).Delete(uctx, name, metav1.DeleteOptions{}); derr != nil && !apierrors.IsNotFound(derr) {
			errs = append(errs, fmt.Errorf("undo: delete secret: %w", derr))
		}
	}
	errs = append(errs, p.deleteNode(uctx, name))
	return nil, fmt.Errorf("provider: launch %s: %w", name, errors.Join(errs...))
}

func (p *Provider) setLaunching(name string, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.launching[name] = true
	} else {
		delete(p.launching, name)
	}
}

// launchingNow copies the names of the launches under way.
func (p *Provider) launchingNow() map[string]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]bool, len(p.launching))
	for k := range p.launching {
		out[k] = true
	}
	return out
}
