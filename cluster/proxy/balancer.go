package proxy

import (
	"slices"
	"sync"
	"time"
)

// balancer picks backends ("ip:port") for one service port: round robin, or with client IP
// affinity the backend the client last reached while that is within the affinity timeout.
type balancer struct {
	now func() time.Time

	mu       sync.Mutex
	backends []string
	next     int
	affinity time.Duration // 0: none
	clients  map[string]session
}

type session struct {
	backend string
	last    time.Time
}

func newBalancer(now func() time.Time) *balancer {
	return &balancer{now: now, clients: map[string]session{}}
}

// set replaces the backends and the affinity timeout; sessions to removed backends end.
func (b *balancer) set(backends []string, affinity time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if affinity != b.affinity {
		clear(b.clients)
	}
	b.affinity = affinity
	if slices.Equal(backends, b.backends) {
		return
	}
	b.backends = backends
	if b.next >= len(backends) {
		b.next = 0
	}
	for ip, s := range b.clients {
		if !slices.Contains(backends, s.backend) {
			delete(b.clients, ip)
		}
	}
}

// candidates are the backends to try for a connection from clientIP, best first: the
// client's session backend if it has a live one, else the next in round robin; then the rest.
func (b *balancer) candidates(clientIP string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.backends)
	if n == 0 {
		return nil
	}
	first := -1
	if s, ok := b.clients[clientIP]; ok && b.affinity > 0 && b.now().Sub(s.last) < b.affinity {
		first = slices.Index(b.backends, s.backend)
	}
	if first < 0 {
		first = b.next
		b.next = (b.next + 1) % n
	}
	out := make([]string, 0, n)
	for i := range n {
		out = append(out, b.backends[(first+i)%n])
	}
	return out
}

// connected records that clientIP reached backend, starting or renewing its session.
func (b *balancer) connected(clientIP, backend string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.affinity <= 0 {
		return
	}
	now := b.now()
	b.clients[clientIP] = session{backend: backend, last: now}
	if len(b.clients) > 1024 {
		for ip, s := range b.clients {
			if now.Sub(s.last) >= b.affinity {
				delete(b.clients, ip)
			}
		}
	}
}
