package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// WatchBuffer is how many undelivered events a watcher may hold before it counts as fallen
// behind: it then receives a final Error event with ErrCompacted and its channel is closed, and
// its client re-lists. The buffer grows on demand up to this bound; an idle watcher holds none.
const WatchBuffer = 1024

// Hub fans out events to watchers and keeps the last `capacity` events so that a watch can
// resume from an older revision; older than that gives ErrCompacted. Every Store implementation
// publishes its committed changes here, in revision order.
//
// Watchers are indexed by prefix: Publish looks up the prefixes of each event's key (one map
// lookup per distinct prefix length in use) instead of testing every watcher.
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
	byPrefix map[string]map[*watcher]struct{}
	lengths  []int       // sorted distinct lengths of the prefixes in byPrefix
	lengthN  map[int]int // number of prefixes in byPrefix of each length
	closed   bool
}

// watcher is one Watch: Publish appends to its queue without blocking; a goroutine first sends
// the replayed history and then the queued events to out, so Publish never waits for a receiver.
type watcher struct {
	prefix string
	from   int64
	out    chan Event
	wake   chan struct{} // capacity 1: the queue changed

	mu      sync.Mutex
	queue   []Event // undelivered events from head on
	head    int
	stopped bool  // no more events will be queued
	err     error // why, when the watcher fell behind
}

// push queues ev; false when the watcher already holds WatchBuffer undelivered events.
func (w *watcher) push(ev Event) bool {
	w.mu.Lock()
	if len(w.queue)-w.head >= WatchBuffer {
		w.mu.Unlock()
		return false
	}
	w.queue = append(w.queue, ev)
	w.mu.Unlock()
	w.signal()
	return true
}

func (w *watcher) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// stop ends the watcher after its queued events, with err (nil: a plain close).
func (w *watcher) stop(err error) {
	w.mu.Lock()
	w.stopped, w.err = true, err
	w.mu.Unlock()
	w.signal()
}

// pop returns the oldest queued event; ok false when none is queued, then stopped says whether
// more may come. The queue's memory is released once drained, unless it is small.
func (w *watcher) pop() (ev Event, ok, stopped bool, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.head == len(w.queue) {
		return Event{}, false, w.stopped, w.err
	}
	ev = w.queue[w.head]
	w.queue[w.head] = Event{}
	w.head++
	if w.head == len(w.queue) {
		w.head = 0
		if cap(w.queue) > 16 {
			w.queue = nil
		} else {
			w.queue = w.queue[:0]
		}
	}
	return ev, true, false, nil
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
		byPrefix: make(map[string]map[*watcher]struct{}),
		lengthN:  make(map[int]int),
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
// event older than Revision() is ignored. Publish never blocks on a receiver: a watcher that
// holds WatchBuffer undelivered events is ended with ErrCompacted.
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
		for _, l := range h.lengths {
			if l > len(ev.Key) {
				break
			}
			for w := range h.byPrefix[ev.Key[:l]] {
				if ev.Revision > w.from && !w.push(ev) {
					h.drop(w, fmt.Errorf("watch %q fell more than %d events behind: %w", w.prefix, WatchBuffer, ErrCompacted))
				}
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

// add registers w. Callers hold h.mu.
func (h *Hub) add(w *watcher) {
	h.watchers[w] = struct{}{}
	set := h.byPrefix[w.prefix]
	if set == nil {
		set = make(map[*watcher]struct{})
		h.byPrefix[w.prefix] = set
		if h.lengthN[len(w.prefix)]++; h.lengthN[len(w.prefix)] == 1 {
			h.lengths = append(h.lengths, len(w.prefix))
			sort.Ints(h.lengths)
		}
	}
	set[w] = struct{}{}
}

// drop unregisters w and stops it with err. Callers hold h.mu.
func (h *Hub) drop(w *watcher, err error) {
	if _, ok := h.watchers[w]; !ok {
		return
	}
	delete(h.watchers, w)
	set := h.byPrefix[w.prefix]
	delete(set, w)
	if len(set) == 0 {
		delete(h.byPrefix, w.prefix)
		if h.lengthN[len(w.prefix)]--; h.lengthN[len(w.prefix)] == 0 {
			delete(h.lengthN, len(w.prefix))
			i := sort.SearchInts(h.lengths, len(w.prefix))
			h.lengths = append(h.lengths[:i], h.lengths[i+1:]...)
		}
	}
	w.stop(err)
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
	w := &watcher{prefix: prefix, from: from, out: make(chan Event), wake: make(chan struct{}, 1)}
	replay := h.history(prefix, from)
	h.add(w)
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

// forward sends replay then queued events to w.out until ctx ends or w is stopped.
func (h *Hub) forward(ctx context.Context, w *watcher, replay []Event) {
	defer close(w.out)
	for _, ev := range replay {
		if !send(ctx, w.out, ev) {
			h.unregister(w)
			return
		}
	}
	replay = nil // not held for the watch's life
	for {
		ev, ok, stopped, err := w.pop()
		switch {
		case ok:
			if !send(ctx, w.out, ev) {
				h.unregister(w)
				return
			}
		case stopped:
			if err != nil {
				send(ctx, w.out, Event{Type: Error, Err: err})
			}
			return
		default:
			select {
			case <-ctx.Done():
				h.unregister(w)
				return
			case <-w.wake:
			}
		}
	}
}

func (h *Hub) unregister(w *watcher) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.drop(w, nil)
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
		h.drop(w, nil)
	}
}

// Watchers returns the number of active watches (for metrics and tests).
func (h *Hub) Watchers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.watchers)
}
