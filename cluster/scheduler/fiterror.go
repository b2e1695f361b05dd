package scheduler

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrNoNodesAvailable is Kubernetes' error when the cluster has no node at all.
var ErrNoNodesAvailable = errors.New("no nodes available to schedule pods")

// FitError says why no node fits a pod. Its Error() is Kubernetes' text, e.g.
// "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 Insufficient memory."
type FitError struct {
	// NumAllNodes is how many nodes were considered.
	NumAllNodes int
	// PreFilterMsg is set when the pod fits no node whatever the node (e.g. an unbound claim).
	PreFilterMsg string
	// Reasons counts the nodes that failed for each reason.
	Reasons map[string]int
}

// Error formats like Kubernetes' framework.FitError: the "count reason" entries sorted as
// strings, then a period. drover has no preemption, so no "preemption: ..." sentence follows.
func (f *FitError) Error() string {
	msg := fmt.Sprintf("0/%v nodes are available:", f.NumAllNodes)
	if f.PreFilterMsg != "" {
		return msg + " " + f.PreFilterMsg + "."
	}
	entries := make([]string, 0, len(f.Reasons))
	for reason, n := range f.Reasons {
		entries = append(entries, fmt.Sprintf("%v %v", n, reason))
	}
	sort.Strings(entries)
	if len(entries) > 0 {
		msg += " " + strings.Join(entries, ", ") + "."
	}
	return msg
}

// IsUnschedulable reports whether err says the pod fits no node now (as opposed to a failure
// to work it out), so that it waits for the cluster to change.
func IsUnschedulable(err error) bool {
	var fe *FitError
	return errors.As(err, &fe) || errors.Is(err, ErrNoNodesAvailable)
}
