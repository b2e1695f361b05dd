package apiserver

import (
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Limits caps the requests served at once, as the Kubernetes API server's
// --max-requests-inflight and --max-mutating-requests-inflight do: a request over its cap is
// answered 429 TooManyRequests with Retry-After: 1 at once (never queued). Watches, logs and
// the health endpoints are not counted. Heartbeats (Lease writes in kube-node-lease and of the
// controller manager's Lease, Node updates) have a budget of their own, so a flood of lists or
// writes never makes a node or the leader miss its renewal (API Priority and Fairness's
// exempt level, at drover's scale). Zero fields take the defaults; negative ones mean no cap.
type Limits struct {
	ReadOnly   int // default 400
	Mutating   int // default 200
	Heartbeats int // default 100
}

// Default caps, Kubernetes' own for the first two.
const (
	DefaultMaxRequestsInFlight         = 400
	DefaultMaxMutatingRequestsInFlight = 200
	DefaultMaxHeartbeatsInFlight       = 100
)

// inflight is the limiting middleware's state: one semaphore per budget (nil: unlimited).
type inflight struct {
	readOnly, mutating, heartbeats chan struct{}
}

func newInflight(l Limits) *inflight {
	sem := func(n, def int) chan struct{} {
		switch {
		case n < 0:
			return nil
		case n == 0:
			n = def
		}
		return make(chan struct{}, n)
	}
	return &inflight{
		readOnly:   sem(l.ReadOnly, DefaultMaxRequestsInFlight),
		mutating:   sem(l.Mutating, DefaultMaxMutatingRequestsInFlight),
		heartbeats: sem(l.Heartbeats, DefaultMaxHeartbeatsInFlight),
	}
}

// limit wraps next with the in-flight caps.
func (f *inflight) limit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sem := f.budget(r)
		if sem == nil {
			next.ServeHTTP(w, r)
			return
		}
		select {
		case sem <- struct{}{}:
		default:
			writeError(w, apierrors.NewTooManyRequests("Too many requests, please try again later.", 1))
			return
		}
		defer func() { <-sem }()
		next.ServeHTTP(w, r)
	})
}

// budget is the semaphore r counts against (nil: none).
func (f *inflight) budget(r *http.Request) chan struct{} {
	p := r.URL.Path
	switch p {
	case "/healthz", "/livez", "/readyz", "/version":
		return nil
	}
	if longRunning(r) {
		return nil
	}
	mutating := r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions
	if mutating && heartbeat(p) {
		return f.heartbeats
	}
	if mutating {
		return f.mutating
	}
	return f.readOnly
}

// longRunning reports the requests Kubernetes does not count in flight: watches and the
// streaming subresources.
func longRunning(r *http.Request) bool {
	q := r.URL.Query()
	if w := q.Get("watch"); w == "true" || w == "1" {
		return true
	}
	if strings.Contains(r.URL.Path, "/watch/") {
		return true
	}
	for _, sub := range []string{"/log", "/exec", "/attach", "/portforward", "/proxy"} {
		if strings.HasSuffix(r.URL.Path, sub) {
			return true
		}
	}
	return false
}

// heartbeat reports the writes that keep nodes and the controller manager alive: node Leases,
// the controller manager's Lease, and Nodes (their status).
func heartbeat(p string) bool {
	return strings.HasPrefix(p, "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/") ||
		p == "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/drover-controller-manager" ||
		strings.HasPrefix(p, "/api/v1/nodes/")
}
