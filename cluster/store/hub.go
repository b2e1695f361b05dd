package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// WatchBuffer is how many undelivered events a watcher may hold before it counts as fallen
// behind: it then receives a final Error event with ErrCompacted and its channel is closed.
const WatchBuffer = 1024

// Hub fans out events to watchers and keeps the last `capacity` events so that a watch can
// resume from an older revision; older than that gives ErrCompacted. Every Store implementation
// publishes its committed changes here, in revision order.
//
// Events are shared between watchers: receivers must not modify Value or PrevValue.
type Hub struct {
	mu       sync.Mutex
	ring     []Event // circular buffer of the newest events
	start    int     // index of the oldest event in ring
	n        int     // number of events in ring
	floor    int64   // every event with Revision > floor is retained
	rev      int64   // newest revision published
	watchers map[*watcher]struct{}
	closed   bool
}

// watcher is one Watch: Publish does non-blocking sends to in; a goroutine first sends the
// replayed history and then forwards in to out, so Publish never waits for a receiver.
type watcher struct {
	prefix string
	from   int64
	in     chan Event
	out    chan Event
	err    error // set (under Hub.mu) before in is closed when the watcher fell behind
}

// NewHub returns a Hub retaining up to capacity events (0: none) whose revision counter starts
// at startRevision: a watch from any older revision fails with ErrCompacted.
func NewHub(capacity int, startRevision int64) *Hub {
	if capacity < 0 {
		capacity = 0
	}
	return &Hub{
		ring:     make([]Event, capacity),
		floor:    startRevision,
		rev:      startRevision,
		watchers: make(map[*watcher]struct{}),
	}
}

// Revision returns the newest revision published, or the start revision.
func (h *Hub) Revision() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rev
}

// Publish records events, which must be in revision order, and delivers them to every watcher
// whose prefix matches. Several events may share a revision (changes a backend observed at one
// index) but must then be published in the same call, so no watch starts between them. An
// event older than Revision() is ignored. Publish never blocks on a receiver: a watcher whose
// buffer is full is ended with ErrCompacted.
func (h *Hub) Publish(events ...Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	for _, ev := range events {
		if ev.Revision < h.rev || ev.Type == Error {
			continue
		}
		h.rev = ev.Revision
		h.record(ev)
		for w := range h.watchers {
			if ev.Revision <= w.from || !strings.HasPrefix(ev.Key, w.prefix) {
				continue
			}
			select {
			case w.in <- ev:
			default:
				w.err = fmt.Errorf("watch %q fell more than %d events behind: %w", w.prefix, WatchBuffer, ErrCompacted)
				h.drop(w)
			}
		}
	}
}

// record appends ev to the ring, evicting the oldest event when full. Callers hold h.mu.
func (h *Hub) record(ev Event) {
	c := len(h.ring)
	if c == 0 {
		h.floor = ev.Revision
		return
	}
	if h.n == c {
		h.floor = h.ring[h.start].Revision
		h.ring[h.start] = ev
		h.start = (h.start + 1) % c
		return
	}
	h.ring[(h.start+h.n)%c] = ev
	h.n++
}

// at returns the i-th oldest retained event. Callers hold h.mu.
func (h *Hub) at(i int) Event { return h.ring[(h.start+i)%len(h.ring)] }

// drop unregisters w and closes its input. Callers hold h.mu.
func (h *Hub) drop(w *watcher) {
	if _, ok := h.watchers[w]; !ok {
		return
	}
	delete(h.watchers, w)
	close(w.in)
}

// Watch streams events under prefix with a revision greater than from (0: from now on): first
// the retained history, then live events, in order and without gaps or duplicates. from may be
// ahead of Revision(); events then start once they pass it. A from older than the retained
// history fails with ErrCompacted. The channel is closed when ctx ends, when the Hub closes and
// after an Error event.
func (h *Hub) Watch(ctx context.Context, prefix string, from int64) (<-chan Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, fmt.Errorf("watch %q: store closed: %w", prefix, ErrUnavailable)
	}
	if from == 0 {
		from = h.rev
	}
	if from < h.floor {
		floor := h.floor
		h.mu.Unlock()
		return nil, fmt.Errorf("watch %q from revision %d (oldest resumable %d): %w", prefix, from, floor, ErrCompacted)
	}
	w := &watcher{prefix: prefix, from: from, in: make(chan Event, WatchBuffer), out: make(chan Event)}
	replay := h.history(prefix, from)
	h.watchers[w] = struct{}{}
	h.mu.Unlock()

	go h.forward(ctx, w, replay)
	return w.out, nil
}

// history returns the retained events under prefix with a revision greater than from.
// Callers hold h.mu.
func (h *Hub) history(prefix string, from int64) []Event {
	first := sort.Search(h.n, func(i int) bool { return h.at(i).Revision > from })
	var out []Event
	for i := first; i < h.n; i++ {
		if ev := h.at(i); strings.HasPrefix(ev.Key, prefix) {
			out = append(out, ev)
		}
	}
	return out
}

// forward sends replay then live events to w.out until ctx ends or w.in is closed.
func (h *Hub) forward(ctx context.Context, w *watcher, replay []Event) {
	defer close(w.out)
	for _, ev := range replay {
		if !send(ctx, w.out, ev) {
			h.unregister(w)
			return
		}
	}
	for {
		select {
		case <-ctx.Done():
			h.unregister(w)
			return
		case ev, ok := <-w.in:
			if !ok {
				h.mu.Lock()
				err := w.err
				h.mu.Unlock()
				if err != nil {
					send(ctx, w.out, Event{Type: Error, Err: err})
				}
				return
			}
			if !send(ctx, w.out, ev) {
				h.unregister(w)
				return
			}
		}
	}
}

func (h *Hub) unregister(w *watcher) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.drop(w)
}

func send(ctx context.Context, ch chan<- Event, ev Event) bool {
	select {
	case ch <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// Close ends every watch (their channels close) and makes later Watch calls fail with
// ErrUnavailable. Close is idempotent.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for w := range h.watchers {
		h.drop(w)
	}
}

// Watchers returns the number of active watches (for metrics and tests).
func (h *Hub) Watchers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.watchers)
}
