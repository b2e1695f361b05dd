package planner

import (
	"fmt"
	"strings"

	"github.com/drover-ci/drover/cloud/jenkins"
)

// Template is what the planner needs of a configured template.
type Template struct {
	Name string
	// Label is the template's space-separated labels.
	Label string
	// InstanceCap caps the template's agents (all states); 0 = no cap.
	InstanceCap int
	// MaxPending caps its agents not yet connected (pending + starting);
	// 0 = no cap.
	MaxPending int
	// MinIdle is the warm pool size, already resolved for now by the
	// caller (see MinIdleAt).
	MinIdle int
}

// Labels returns the template's labels.
func (t Template) Labels() []string { return strings.Fields(t.Label) }

// Unmatched is a queue item no template takes, and why.
type Unmatched struct {
	Item   jenkins.QueueItem
	Reason string
}

// Assignment says which template takes each queue item.
type Assignment struct {
	// ByTemplate lists, per template name, the buildable items it takes,
	// in queue order.
	ByTemplate map[string][]jenkins.QueueItem
	// Unmatched lists the items no template takes, in queue order.
	Unmatched []Unmatched
}

// Assign gives each buildable queue item to exactly one template: the
// first template in config order whose labels satisfy the item's label
// expression (item.Label). An unlabelled item goes to the first template
// whose label is empty (TakesUnlabelled). An unlabelled item whose why text
// names an offline node (item.Node) goes to that node's template when
// nodeTemplate (node name → template name) knows it. Items that are not
// buildable (quiet period, blocked) are not assigned.
func Assign(items []jenkins.QueueItem, templates []Template, nodeTemplate map[string]string) Assignment {
	a := Assignment{ByTemplate: map[string][]jenkins.QueueItem{}}
	exprs := map[string]Expr{}
	for _, it := range items {
		name, reason := assignOne(it, templates, nodeTemplate, exprs)
		if name == "" {
			a.Unmatched = append(a.Unmatched, Unmatched{Item: it, Reason: reason})
			continue
		}
		a.ByTemplate[name] = append(a.ByTemplate[name], it)
	}
	return a
}

func assignOne(it jenkins.QueueItem, ts []Template, nodeTemplate map[string]string, exprs map[string]Expr) (string, string) {
	if !it.Buildable {
		return "", "not buildable yet (quiet period or blocked)"
	}
	label := strings.TrimSpace(it.Label)
	if label == "" && it.Node != "" {
		if t, ok := nodeTemplate[it.Node]; ok && hasTemplate(ts, t) {
			return t, ""
		}
		return "", fmt.Sprintf("waits for node %q, which no template made", it.Node)
	}
	if label == "" {
		for _, t := range ts {
			if TakesUnlabelled(t.Label) {
				return t.Name, ""
			}
		}
		return "", "unlabelled, and no template has an empty label"
	}
	e, ok := exprs[label]
	if !ok {
		var err error
		if e, err = Parse(label); err != nil {
			return "", err.Error()
		}
		exprs[label] = e
	}
	for _, t := range ts {
		if e.Matches(t.Labels()) {
			return t.Name, ""
		}
	}
	return "", fmt.Sprintf("no template has labels matching %q", label)
}

func hasTemplate(ts []Template, name string) bool {
	for _, t := range ts {
		if t.Name == name {
			return true
		}
	}
	return false
}
