package provider

import (
	"fmt"
)

// nodeAction deletes a Jenkins node of ours that has no agent pod.
type nodeAction struct {
	name, template string
	// lost is set when the node was busy: its pod went mid-build.
	lost bool
	msg  string
}

// decideNodes deletes our Jenkins nodes that have no agent pod and are not
// being launched: at once when busy (an agent lost mid-build: its build is
// lost, and Jenkins fails it once the node goes), else when the orphan
// sweep is due.
func decideNodes(w *world, pol policy, d *decision) {
	pods := map[string]bool{}
	for _, a := range w.agents {
		if !a.swarm {
			pods[a.name] = true
		}
	}
	for _, name := range w.order {
		c := w.comps[name]
		if !ours(pol.ns, c) || pods[name] || w.launching[name] {
			continue
		}
		tmpl := templateOf(c.Description)
		busy := len(c.Builds) > 0 || !c.Idle
		switch {
		case busy:
			n := nodeAction{name: name, template: tmpl, lost: true, msg: "agent pod gone while its agent was building"}
			for _, b := range c.Builds {
				if _, known := w.ledger[b]; known || d.hasLost(b) {
					continue
				}
				t, _ := templateNamed(pol.cfg, tmpl)
				d.lost = append(d.lost, lostBuild{Build: b, Template: tmpl, Agent: name, Reason: LostPodDeleted,
					LostAt: w.now, State: ledgerLost, Attempt: 1, Retries: t.Retries()})
			}
			d.nodes = append(d.nodes, n)
		case pol.sweepDue:
			d.nodes = append(d.nodes, nodeAction{name: name, template: tmpl})
		}
	}
}

// decideSentinel creates the label sentinel when a buildable item names no label
// and deletes it when no item without a labelExpression is queued any more.
func decideSentinel(w *world, pol policy) string {
	need, keep := false, false
	for _, it := range w.queue {
		if it.LabelExpression != "" || it.Pending {
			continue
		}
		keep = true
		if it.Buildable && it.Label == "" && it.Node == "" {
			need = true
		}
	}
	_, exists := w.comps[SentinelNodePrefix+pol.ns]
	switch {
	case need && !exists && anyTemplateLabelled(pol):
		return "create"
	case exists && !keep:
		return "delete"
	}
	return ""
}

// anyTemplateLabelled reports whether some template has labels (else the
// sentinel could not help: unlabelled items go to the unlabelled templates).
func anyTemplateLabelled(pol policy) bool {
	for _, t := range pol.cfg.Templates {
		if len(t.Labels()) > 0 {
			return true
		}
	}
	return false
}

// lostMessage is the failure message of a lost agent's node.
func lostMessage(n nodeAction) string {
	return fmt.Sprintf("%s: %s", LostPodDeleted, n.msg)
}
