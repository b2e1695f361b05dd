package jenkins

import "strings"

// Queue why texts of Jenkins 2.376 that name a label or a node (DESIGN §7).
const (
	whyNoNodes     = "There are no nodes with the label ‘"
	whyAllOffline  = "All nodes of label ‘"
	whyWaitingOn   = "Waiting for next available executor on ‘"
	whyNodeOffline = "’ is offline"
	closeQuote     = "’"
	openQuote      = "‘"
	allOfflineTail = "’ are offline"
)

// ParseWhy returns the label or the node a queue why text names. Texts that
// name neither (e.g. "Waiting for next available executor", "In the quiet
// period. Expires in …") give two empty strings.
func ParseWhy(why string) (label, node string) {
	why = strings.TrimSpace(why)
	switch {
	case strings.HasPrefix(why, whyNoNodes):
		return quoted(why[len(whyNoNodes):], closeQuote), ""
	case strings.HasPrefix(why, whyAllOffline):
		return quoted(why[len(whyAllOffline):], allOfflineTail), ""
	case strings.HasPrefix(why, whyWaitingOn):
		return quoted(why[len(whyWaitingOn):], closeQuote), ""
	case strings.HasPrefix(why, openQuote) && strings.HasSuffix(why, whyNodeOffline):
		return "", why[len(openQuote) : len(why)-len(whyNodeOffline)]
	}
	return "", ""
}

// quoted returns rest up to the last occurrence of end, so a label
// expression that itself contains quotes is kept whole.
func quoted(rest, end string) string {
	if i := strings.LastIndex(rest, end); i >= 0 {
		return rest[:i]
	}
	return rest
}
