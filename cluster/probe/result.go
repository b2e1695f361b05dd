// Package probe implements Kubernetes' container probes: the HTTP, TCP and exec probers, where
// a failing target is a Result and not an error, and the Worker that runs one probe of one
// container on a schedule and applies its success and failure thresholds.
//
// The rules follow the kubelet (pkg/probe and pkg/kubelet/prober of Kubernetes 1.32): 2xx and
// 3xx HTTP answers succeed, redirects to another host are not followed (and count as success),
// the User-Agent is "kube-probe/1.32", at most 10 KiB of a body or of exec output is kept as
// the message, and errors that say nothing about the target (a malformed URL, a failing
// runtime) are returned as errors with the Result Unknown, which a Worker does not count.
package probe

// Result is the outcome of one probe attempt, or a Worker's current state.
type Result int

// Results. The zero value is Unknown.
const (
	Unknown Result = iota
	Success
	Failure
)

// String returns "success", "failure" or "unknown".
func (r Result) String() string {
	switch r {
	case Success:
		return "success"
	case Failure:
		return "failure"
	default:
		return "unknown"
	}
}

// maxOutput bounds the part of an HTTP body or of exec output kept as a probe's message.
const maxOutput = 10 << 10

// UserAgent is the User-Agent of HTTP probes unless the probe sets its own.
const UserAgent = "kube-probe/1.32"
