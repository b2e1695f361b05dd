package nodeagent

import (
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

// backoff tracks, per key (a container of one pod), when the next attempt may happen. It
// belongs to its pod worker's sync, which never runs twice at once.
type backoff struct {
	clock clock.Clock
	m     map[string]*backoffEntry
}

type backoffEntry struct {
	delay time.Duration
}

func newBackoff(c clock.Clock) *backoff { return &backoff{clock: c, m: map[string]*backoffEntry{}} }

// remaining returns how long key must still wait when its last failure was at since
// (0: it may go now). As in the kubelet, the delay counts from the failure.
func (b *backoff) remaining(key string, since time.Time) time.Duration {
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

// delay is key's current back-off delay (10 s before any).
func (b *backoff) delay(key string) time.Duration {
	if e := b.m[key]; e != nil {
		return e.delay
	}
	return backoffInitial
}
