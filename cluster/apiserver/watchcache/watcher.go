package watchcache

import (
	"context"
	"time"
)

// WatchOptions selects what a watcher is offered.
type WatchOptions struct {
	// Prefix is the resource's (Resource.Prefix); Namespace narrows it ("" for all).
	Prefix    string
	Namespace string
	// Indexed watchers are offered only events whose object (new or previous) has Index as
	// its index value: a watch whose field selector requires spec.nodeName=Index.
	Indexed bool
	Index   string
	// From is the revision the watch starts after (0: now, with the current objects returned
	// as initial entries).
	From int64
	// Bookmarks asks for a Bookmark event every Config.BookmarkInterval.
	Bookmarks bool
}

// Watcher is one watch on the cache. Read it with Next; Stop it when done.
type Watcher struct {
	c        *Cacher
	ch       *cache
	opts     WatchOptions
	from     int64
	replay   []*Event
	events   chan *Event
	closed   bool // under Cacher.mu: events is closed
	lastMark time.Time
}

// Watch registers a watcher. With opts.From == 0 it also returns the current entries (sorted
// by key) and the revision they are at, which the watch starts after; otherwise the watch
// replays the ring's events after From (ErrTooOld when From is older than the ring).
func (c *Cacher) Watch(opts WatchOptions) (*Watcher, []*Entry, int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := c.caches[opts.Prefix]
	if !c.ready || ch == nil {
		return nil, nil, 0, ErrNotReady
	}
	current := max(c.rev, ch.listRev)
	w := &Watcher{c: c, ch: ch, opts: opts, from: opts.From, events: make(chan *Event, c.cfg.WatcherBuffer), lastMark: time.Now()}
	var initial []*Entry
	prefix := ch.res.Prefix
	if opts.Namespace != "" && ch.res.Namespaced {
		prefix += opts.Namespace + "/"
	}
	if opts.From == 0 {
		w.from = current
		for key, e := range ch.items {
			if len(key) >= len(prefix) && key[:len(prefix)] == prefix {
				initial = append(initial, e)
			}
		}
	} else {
		if opts.From < ch.floor && opts.From < current {
			return nil, nil, 0, ErrTooOld
		}
		for _, ev := range ch.since(opts.From) {
			if w.offered(ev) {
				w.replay = append(w.replay, ev)
			}
		}
	}
	add(c.watchersOf(ch, w), w)
	SortByKey(initial)
	return w, initial, w.from, nil
}

func add(set map[*Watcher]struct{}, w *Watcher) { set[w] = struct{}{} }

// watchersOf returns the set w belongs in (creating it). Callers hold c.mu.
func (c *Cacher) watchersOf(ch *cache, w *Watcher) map[*Watcher]struct{} {
	m, k := ch.plain, w.opts.Namespace
	if w.opts.Indexed {
		m, k = ch.indexed, w.opts.Index
	}
	set := m[k]
	if set == nil {
		set = map[*Watcher]struct{}{}
		m[k] = set
	}
	return set
}

// offered reports whether ev can concern w (namespace and index; selectors are the caller's).
func (w *Watcher) offered(ev *Event) bool {
	if ev.Revision <= w.from {
		return false
	}
	if w.opts.Namespace != "" && ev.Object.Namespace != w.opts.Namespace {
		return false
	}
	if w.opts.Indexed {
		return ev.Object.Index == w.opts.Index || (ev.Prev != nil && ev.Prev.Index == w.opts.Index)
	}
	return true
}

// dispatch offers ev to the watchers that can match it. Callers hold c.mu for writing.
func (c *Cacher) dispatch(ch *cache, ev *Event) {
	c.offer(ch, ch.plain[""], ev)
	if ev.Object.Namespace != "" {
		c.offer(ch, ch.plain[ev.Object.Namespace], ev)
	}
	if len(ch.indexed) > 0 {
		c.offer(ch, ch.indexed[ev.Object.Index], ev)
		if ev.Prev != nil && ev.Prev.Index != ev.Object.Index {
			c.offer(ch, ch.indexed[ev.Prev.Index], ev)
		}
	}
}

func (c *Cacher) offer(ch *cache, set map[*Watcher]struct{}, ev *Event) {
	for w := range set {
		if !w.offered(ev) {
			continue
		}
		select {
		case w.events <- ev:
		default:
			// Fallen behind: close it rather than wait (its client resumes or re-lists).
			c.log.Debug("watch cache closing a watcher that fell behind", "prefix", ch.res.Prefix, "buffer", cap(w.events))
			c.closeWatcher(ch, w)
		}
	}
}

// closeWatcher unregisters w and closes its channel. Callers hold c.mu for writing.
func (c *Cacher) closeWatcher(ch *cache, w *Watcher) {
	if w.closed {
		return
	}
	w.closed = true
	set := c.watchersOf(ch, w)
	delete(set, w)
	if len(set) == 0 {
		if w.opts.Indexed {
			delete(ch.indexed, w.opts.Index)
		} else {
			delete(ch.plain, w.opts.Namespace)
		}
	}
	close(w.events)
}

// Next returns the next event; ok is false when ctx ended or the watcher was closed (it fell
// behind, or the cache restarted): the client then resumes from the last revision it saw.
func (w *Watcher) Next(ctx context.Context) (*Event, bool) {
	if len(w.replay) > 0 {
		ev := w.replay[0]
		w.replay = w.replay[1:]
		return ev, true
	}
	select {
	case <-ctx.Done():
		return nil, false
	case ev, ok := <-w.events:
		return ev, ok
	}
}

// Stop unregisters the watcher.
func (w *Watcher) Stop() {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	w.c.closeWatcher(w.ch, w)
}

// bookmarks sends every bookmark-allowing watcher a Bookmark at the cache's revision every
// BookmarkInterval (Kubernetes sends them about once a minute).
func (c *Cacher) bookmarks(ctx context.Context) {
	tick := time.NewTicker(max(c.cfg.BookmarkInterval/4, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			c.mu.Lock()
			for _, ch := range c.caches {
				rev := max(c.rev, ch.listRev)
				for _, m := range []map[string]map[*Watcher]struct{}{ch.plain, ch.indexed} {
					for _, set := range m {
						for w := range set {
							if !w.opts.Bookmarks || rev <= w.from || now.Sub(w.lastMark) < c.cfg.BookmarkInterval {
								continue
							}
							select {
							case w.events <- &Event{Type: Bookmark, Revision: rev}:
								w.lastMark = now
							default:
							}
						}
					}
				}
			}
			c.mu.Unlock()
		}
	}
}
