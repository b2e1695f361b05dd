package jenkinstest

import "time"

// DefaultPendingWindow is how long a queue item stays listed with
// "pending": true after an executor took it, unless Options.PendingWindow
// says otherwise. A real Jenkins 2.376 shows the same overlap (DESIGN §7):
// the computer already lists the build in executors[currentExecutable]
// while the queue still lists its item.
const DefaultPendingWindow = 300 * time.Millisecond

// SetPendingWindow sets how long a started item stays listed as pending;
// 0 (or less) turns the window off: items leave the queue when they start.
func (s *Server) SetPendingWindow(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pendingWindow = max(d, 0)
}

// pendingWindowOf turns Options.PendingWindow into the window to use.
func pendingWindowOf(o Options) time.Duration {
	switch {
	case o.PendingWindow < 0:
		return 0
	case o.PendingWindow == 0:
		return DefaultPendingWindow
	}
	return o.PendingWindow
}

// takeLocked is an executor taking it: the item leaves the queue, or with a
// pending window stays listed as pending until the window ends.
func (s *Server) takeLocked(it *item) {
	if s.pendingWindow <= 0 {
		s.removeItemLocked(it.id)
		return
	}
	it.pending = true
	it.pendingUntil = s.now().Add(s.pendingWindow)
}

// pruneLocked drops pending items whose window has ended.
func (s *Server) pruneLocked() {
	now := s.now()
	kept := s.queue[:0]
	for _, it := range s.queue {
		if !it.pending || now.Before(it.pendingUntil) {
			kept = append(kept, it)
		}
	}
	clear(s.queue[len(kept):])
	s.queue = kept
}

// EndPending drops every pending item now, as if their windows had ended,
// and returns how many there were. With a long PendingWindow it lets a test
// hold the overlap open and close it exactly when it wants.
func (s *Server) EndPending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, it := range s.queue {
		if it.pending {
			it.pendingUntil = s.now()
			n++
		}
	}
	s.pruneLocked()
	return n
}
