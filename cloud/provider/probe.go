package provider

import (
	"context"
	"fmt"

	"github.com/drover-ci/drover/cloud/jenkins"
)

// ProbeNodePrefix names the label probe node (ProbeNodePrefix + namespace).
//
// A pipeline node('L') item carries no labelExpression, and while Jenkins
// has no agent node at all its why text ("Waiting for next available
// executor") names no label either (DESIGN §7), so no template could be
// chosen for it. The provider then creates one offline node with no labels
// and no agent (the probe): with a node present, Jenkins' why text names the
// label ("There are no nodes with the label ‘L’") and the next poll plans as
// usual. The probe is deleted once no such item is queued.
const ProbeNodePrefix = "drover-label-probe-"

// probeDescription is the description of the probe node.
const probeDescription = "drover Jenkins cloud label probe: lets the queue name the labels of pipeline items; never connects"

func (p *Provider) probeName() string { return ProbeNodePrefix + p.ns }

// labelProbe creates the probe when a buildable item names no label and
// deletes it when no item without a labelExpression is queued any more.
func (p *Provider) labelProbe(ctx context.Context, w *world) error {
	need, keep := false, false
	for _, it := range w.queue {
		if it.LabelExpression != "" {
			continue
		}
		keep = true
		if it.Buildable && it.Label == "" && it.Node == "" {
			need = true
		}
	}
	name := p.probeName()
	_, exists := w.comps[name]
	switch {
	case need && !exists && p.anyTemplateLabelled():
		err := p.opts.Jenkins.CreateInboundNode(ctx, jenkins.NodeSpec{Name: name, Description: probeDescription,
			Executors: 1, Mode: "EXCLUSIVE"})
		if err != nil {
			return fmt.Errorf("provider: create label probe node: %w", err)
		}
		p.log.Info("created the label probe node (a queued item names no label)", "node", name)
	case exists && !keep:
		if err := p.deleteNode(ctx, name); err != nil {
			return err
		}
		p.log.Info("deleted the label probe node", "node", name)
	}
	return nil
}

// anyTemplateLabelled reports whether some template has labels (else the
// probe could not help: unlabelled items go to the unlabelled templates).
func (p *Provider) anyTemplateLabelled() bool {
	for _, t := range p.cfg.Templates {
		if len(t.Labels()) > 0 {
			return true
		}
	}
	return false
}
