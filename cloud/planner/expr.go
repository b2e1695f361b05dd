// Package planner decides, with no I/O, how many agents each template of the
// Jenkins cloud should launch: label expressions as Jenkins evaluates them,
// queue items assigned to templates, and demand within the caps.
package planner

import "strings"

// Expr is a parsed Jenkins label expression. The zero Expr is the empty
// expression, which matches any set of labels.
type Expr struct {
	root node
	src  string
}

// Empty reports whether the expression is empty (an unlabelled item).
func (e Expr) Empty() bool { return e.root == nil }

// String returns the expression as it was parsed.
func (e Expr) String() string { return e.src }

// Matches reports whether a node carrying labels satisfies the expression.
// The empty expression matches anything; whether such an unlabelled item
// may go to a node also depends on the node's mode (see TakesUnlabelled).
func (e Expr) Matches(labels []string) bool {
	if e.root == nil {
		return true
	}
	set := make(map[string]bool, len(labels))
	for _, l := range labels {
		set[l] = true
	}
	return e.root.eval(set)
}

type node interface {
	eval(labels map[string]bool) bool
}

type atom string
type not struct{ x node }
type binary struct {
	op   string // "&&", "||", "->", "<->"
	l, r node
}

func (a atom) eval(s map[string]bool) bool { return s[string(a)] }
func (n not) eval(s map[string]bool) bool  { return !n.x.eval(s) }

func (b binary) eval(s map[string]bool) bool {
	switch b.op {
	case "&&":
		return b.l.eval(s) && b.r.eval(s)
	case "||":
		return b.l.eval(s) || b.r.eval(s)
	case "->":
		return !b.l.eval(s) || b.r.eval(s)
	default: // "<->"
		return b.l.eval(s) == b.r.eval(s)
	}
}

// TakesUnlabelled reports whether agents of a template with this label
// (space-separated) take unlabelled builds. Jenkins' EXCLUSIVE nodes only
// take builds whose label expression matches them, NORMAL nodes take any
// build; drover's rule is that a template takes unlabelled items only if its
// label is empty, and the launcher creates such nodes in NodeMode "NORMAL".
func TakesUnlabelled(label string) bool {
	return strings.TrimSpace(label) == ""
}

// NodeMode is the Jenkins node mode the launcher should give an agent of a
// template with this label: NORMAL when the label is empty (the template
// takes unlabelled builds), else EXCLUSIVE.
func NodeMode(label string) string {
	if TakesUnlabelled(label) {
		return "NORMAL"
	}
	return "EXCLUSIVE"
}
