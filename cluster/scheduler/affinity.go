package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/sets"
)

// nodeMatcher is a NodeSelector (terms ORed) compiled once per pod.
type nodeMatcher struct {
	terms []nodeTerm
}

// nodeTerm is one NodeSelectorTerm: its label requirements and its metadata.name requirements
// ANDed. A term that failed to compile or has no requirement matches no node, as in Kubernetes.
type nodeTerm struct {
	labels labels.Selector
	fields []fieldRequirement
	empty  bool
	bad    bool
}

type fieldRequirement struct {
	in     bool
	values sets.Set[string]
}

var operators = map[corev1.NodeSelectorOperator]selection.Operator{
	corev1.NodeSelectorOpIn:           selection.In,
	corev1.NodeSelectorOpNotIn:        selection.NotIn,
	corev1.NodeSelectorOpExists:       selection.Exists,
	corev1.NodeSelectorOpDoesNotExist: selection.DoesNotExist,
	corev1.NodeSelectorOpGt:           selection.GreaterThan,
	corev1.NodeSelectorOpLt:           selection.LessThan,
}

func compileNodeSelector(ns *corev1.NodeSelector) *nodeMatcher {
	m := &nodeMatcher{}
	for _, t := range ns.NodeSelectorTerms {
		m.terms = append(m.terms, compileTerm(t))
	}
	return m
}

func compileTerm(t corev1.NodeSelectorTerm) nodeTerm {
	nt := nodeTerm{labels: labels.NewSelector(), empty: len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0}
	for _, e := range t.MatchExpressions {
		op, ok := operators[e.Operator]
		if !ok {
			nt.bad = true
			continue
		}
		r, err := labels.NewRequirement(e.Key, op, e.Values)
		if err != nil {
			nt.bad = true
			continue
		}
		nt.labels = nt.labels.Add(*r)
	}
	for _, f := range t.MatchFields {
		if f.Key != "metadata.name" || (f.Operator != corev1.NodeSelectorOpIn && f.Operator != corev1.NodeSelectorOpNotIn) {
			nt.bad = true
			continue
		}
		nt.fields = append(nt.fields, fieldRequirement{in: f.Operator == corev1.NodeSelectorOpIn, values: sets.New(f.Values...)})
	}
	return nt
}

// matches reports whether any term matches the node.
func (m *nodeMatcher) matches(node *corev1.Node) bool {
	for i := range m.terms {
		if m.terms[i].matches(node) {
			return true
		}
	}
	return false
}

func (t *nodeTerm) matches(node *corev1.Node) bool {
	if t.empty || t.bad {
		return false
	}
	for _, f := range t.fields {
		if f.values.Has(node.Name) != f.in {
			return false
		}
	}
	return t.labels.Matches(labels.Set(node.Labels))
}
