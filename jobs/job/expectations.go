package job

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// ExpectationsTimeout is how long the controller waits for the informer to report the creates
// and deletes it issued before it acts again regardless (Kubernetes' ExpectationsTimeout).
const ExpectationsTimeout = 5 * time.Minute

// expectations records, per job key, how many pod creations and which pod deletions were
// issued and not yet observed through the informer (the idea of Kubernetes'
// UIDTrackingControllerExpectations, as in cluster/controller/replication). While a job has
// pending expectations its sync neither creates nor deletes pods, so a lagging cache cannot
// make it start extra pods.
type expectations struct {
	clock clock.PassiveClock
	mu    sync.Mutex
	items map[string]*expectation
}

type expectation struct {
	adds      int
	deletes   map[string]bool
	timestamp time.Time
}

func newExpectations(c clock.PassiveClock) *expectations {
	return &expectations{clock: c, items: map[string]*expectation{}}
}

// satisfied reports whether the job may act: nothing pending, or the record timed out.
func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.items[key]
	if !ok || (x.adds <= 0 && len(x.deletes) == 0) {
		return true
	}
	return e.clock.Since(x.timestamp) > ExpectationsTimeout
}

// expect records that adds pods are about to be created and podKeys deleted for key.
func (e *expectations) expect(key string, adds int, podKeys []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{adds: adds, deletes: map[string]bool{}, timestamp: e.clock.Now()}
	for _, k := range podKeys {
		x.deletes[k] = true
	}
	e.items[key] = x
}

// creationObserved lowers the pending creations of key by one.
func (e *expectations) creationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok && x.adds > 0 {
		x.adds--
	}
}

// deletionObserved marks the deletion of podKey as seen.
func (e *expectations) deletionObserved(key, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok {
		delete(x.deletes, podKey)
	}
}

// forget drops the record of key (the job is gone).
func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.items, key)
}
