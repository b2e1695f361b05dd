package provider

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/agents/render"
)

// setDeletionCosts marks the pods of swarm template t with their deletion
// cost (busy agents high, others low), writing only changed values.
func (p *Provider) setDeletionCosts(ctx context.Context, w *world, t string) error {
	var errs []error
	for _, a := range w.agents {
		if !a.swarm || a.template != t || a.pod.DeletionTimestamp != nil {
			continue
		}
		cost := render.DeletionCostIdle
		if a.busy() {
			cost = render.DeletionCostBusy
		}
		if a.pod.Annotations[render.DeletionCostAnnotation] == cost {
			continue
		}
		if err := p.patchPod(ctx, a.pod.Name, map[string]any{render.DeletionCostAnnotation: cost}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// scaleSwarm creates the template's RC or updates its replicas when they
// change; before a scale-down it sets its pods' deletion costs so that the
// RC deletes idle agents, not busy ones.
func (p *Provider) scaleSwarm(ctx context.Context, w *world, template string, replicas int) error {
	t, ok := p.template(template)
	if !ok {
		return nil
	}
	rcs := p.opts.Kube.CoreV1().ReplicationControllers(p.ns)
	name := render.SwarmPrefix + t.Name
	rc, err := rcs.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = rcs.Create(ctx, render.SwarmController(p.cfg, t, p.ns, replicas), metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("provider: create swarm controller %s: %w", name, err)
		}
		p.log.Info("created swarm controller", "template", t.Name, "replicas", replicas)
		return nil
	}
	if err != nil {
		return fmt.Errorf("provider: get swarm controller %s: %w", name, err)
	}
	if rc.Spec.Replicas != nil && int(*rc.Spec.Replicas) == replicas {
		return nil
	}
	if rc.Spec.Replicas != nil && replicas < int(*rc.Spec.Replicas) {
		if err := p.setDeletionCosts(ctx, w, t.Name); err != nil {
			return fmt.Errorf("provider: swarm controller %s: not scaling down: %w", name, err)
		}
	}
	r := int32(replicas)
	rc.Spec.Replicas = &r
	if _, err := rcs.Update(ctx, rc, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("provider: scale swarm controller %s: %w", name, err)
	}
	p.log.Info("scaled swarm controller", "template", t.Name, "replicas", replicas)
	return nil
}
