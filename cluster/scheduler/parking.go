package scheduler

import (
	"sync"

	"k8s.io/client-go/util/workqueue"
)

// parking holds the keys of pods that fit no node, until something changes that may let them
// fit (a node added or changed, a pod gone, a volume or claim changed) or the periodic retry.
type parking struct {
	mu    sync.Mutex
	keys  map[string]struct{}
	moves uint64 // moveAll calls so far
	queue workqueue.TypedInterface[string]
}

func newParking(q workqueue.TypedInterface[string]) *parking {
	return &parking{keys: map[string]struct{}{}, queue: q}
}

// generation is read before a scheduling attempt and passed to park after it.
func (p *parking) generation() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.moves
}

// park puts a pod aside; if the cluster changed during its attempt (a moveAll since gen),
// it is queued again at once instead.
func (p *parking) park(key string, gen uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.moves != gen {
		p.queue.Add(key)
		return
	}
	p.keys[key] = struct{}{}
}

// moveAll queues every parked pod.
func (p *parking) moveAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.moves++
	for k := range p.keys {
		p.queue.Add(k)
	}
	clear(p.keys)
}

func (p *parking) has(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.keys[key]
	return ok
}

func (p *parking) remove(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.keys, key)
}

func (p *parking) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.keys)
}
