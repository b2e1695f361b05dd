package provider

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/agents/render"
)

// errJenkins marks an observe error that came from Jenkins.
var errJenkins = errors.New("jenkins unreachable")

// Sync runs one poll in four steps: observe (Jenkins and the API into one
// world), decide (pure: what to do), act (do it, idempotently) and report
// (the status ConfigMap and metrics). Run calls it every PollInterval;
// tests may call it directly (with a fake clock).
func (p *Provider) Sync(ctx context.Context) error {
	p.syncMu.Lock()
	defer p.syncMu.Unlock()
	now := p.clock.Now()
	w, err := p.observe(ctx, now)
	if err != nil {
		if errors.Is(err, errJenkins) {
			p.publishJenkinsError(ctx, now, err)
		}
		return err
	}
	sweep := p.sweepDue(now)
	d := decide(w, policy{cfg: p.cfg, ns: p.ns, maxPending: p.opts.MaxPending, backoffs: p.backoffs(), sweepDue: sweep})
	out, aerr := p.act(ctx, w, d)
	errs := []error{aerr}
	if sweep {
		if err := p.sweepSecrets(ctx, w); err != nil {
			errs = append(errs, err)
		} else {
			p.mu.Lock()
			p.lastSweep = now
			p.mu.Unlock()
		}
	}
	st := p.report(w, d, out)
	p.mu.Lock()
	p.active, p.queueSig = inFlight(w, d), queueSignature(w.queue)
	p.mu.Unlock()
	errs = append(errs, p.publish(ctx, st))
	return errors.Join(errs...)
}

// jenkinsErr wraps an error of a Jenkins read for observe.
func jenkinsErr(err error) error {
	return fmt.Errorf("provider: %w: %w", errJenkins, err)
}

// sweepSecrets deletes agent Secrets with no pod, older than SecretOrphanAge.
func (p *Provider) sweepSecrets(ctx context.Context, w *world) error {
	list, err := p.opts.Kube.CoreV1().Secrets(p.ns).List(ctx, metav1.ListOptions{LabelSelector: render.LabelAgent})
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

// inFlight reports whether a poll left work that the next one should see
// soon: items waiting for an agent, agents launched or starting, builds
// ending (one-shot agents in their grace), lost builds not yet closed.
func inFlight(w *world, d decision) bool {
	if len(d.launches) > 0 || len(d.lost) > 0 {
		return true
	}
	for _, f := range d.items {
		if f.excluded == "" && f.template != "" {
			return true
		}
	}
	for _, x := range d.agents {
		switch x.state {
		case StatePending, StateStarting, StateTerminating:
			return true
		}
	}
	for _, e := range w.ledger {
		if e.State == ledgerLost {
			return true
		}
	}
	return false
}
