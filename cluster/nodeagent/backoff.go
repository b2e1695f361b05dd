package nodeagent

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Kubernetes' container restart back-off: 10 s doubling to 5 min, forgotten after a container
// has run for 10 min.
const (
	backoffInitial = 10 * time.Second
	backoffMax     = 5 * time.Minute
	backoffReset   = 10 * time.Minute
)

// backoff tracks, per key (pod uid + container, or an image pull), when the next attempt may
// happen.
type backoff struct {
	clock clock.Clock
	mu    sync.Mutex
	m     map[string]*backoffEntry
}

type backoffEntry struct {
	delay time.Duration
}

func newBackoff(c clock.Clock) *backoff { return &backoff{clock: c, m: map[string]*backoffEntry{}} }

// remaining returns how long key must still wait when its last failure was at since
// (0: it may go now). As in the kubelet, the delay counts from the failure.
func (b *backoff) remaining(key string, since time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.m[key]
	if e == nil {
		return 0
	}
	if d := e.delay - b.clock.Since(since); d > 0 {
		return d
	}
	return 0
}

// advance records a new attempt of key: the first costs nothing and sets 10 s, later ones
// double the delay up to 5 min. A container that ran for 10 min or more starts over.
func (b *backoff) advance(key string, ranFor time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.m[key]
	switch {
	case e == nil || ranFor >= backoffReset:
		b.m[key] = &backoffEntry{delay: backoffInitial}
	default:
		e.delay *= 2
		if e.delay > backoffMax {
			e.delay = backoffMax
		}
	}
}

// forget drops every key with prefix (a pod that is gone).
func (b *backoff) forget(prefix string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.m {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			delete(b.m, k)
		}
	}
}
