package replication

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// ExpectationsTimeout is how long a controller waits for the informer to report the creates and
// deletes it issued before it acts again regardless (Kubernetes' ExpectationsTimeout).
const ExpectationsTimeout = 5 * time.Minute

// expectations records, per controller key, how many pod creations and which pod deletions
// were issued and not yet observed through the informer: the idea of Kubernetes'
// UIDTrackingControllerExpectations. While a controller has pending expectations its sync
// does not create or delete pods, so a lagging cache cannot make it act twice.
type expectations struct {
	clock clock.PassiveClock
	mu    sync.Mutex
	items map[string]*expectation
}

type expectation struct {
	adds      int
	deletes   map[string]bool // keys of pods whose deletion is awaited
	timestamp time.Time
}

func newExpectations(c clock.PassiveClock) *expectations {
	return &expectations{clock: c, items: map[string]*expectation{}}
}

// satisfied reports whether the controller may act: nothing is pending, or the pending
// record is older than ExpectationsTimeout, or there is no record at all.
func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.items[key]
	if !ok {
		return true
	}
	if x.adds <= 0 && len(x.deletes) == 0 {
		return true
	}
	return e.clock.Since(x.timestamp) > ExpectationsTimeout
}

// expectCreations records that n pods are about to be created for key.
func (e *expectations) expectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.items[key] = &expectation{adds: n, deletes: map[string]bool{}, timestamp: e.clock.Now()}
}

// expectDeletions records that the pods named by podKeys are about to be deleted for key.
func (e *expectations) expectDeletions(key string, podKeys []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{deletes: map[string]bool{}, timestamp: e.clock.Now()}
	for _, k := range podKeys {
		x.deletes[k] = true
	}
	e.items[key] = x
}

// creationObserved lowers the pending creations of key by one (a pod was seen or a create failed).
func (e *expectations) creationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok && x.adds > 0 {
		x.adds--
	}
}

// deletionObserved marks the deletion of podKey as seen; seeing it twice counts once.
func (e *expectations) deletionObserved(key, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok {
		delete(x.deletes, podKey)
	}
}

// forget drops the record of key (the controller is gone).
func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.items, key)
}

// pending returns the creations and deletions key still waits for (tests and logs).
func (e *expectations) pending(key string) (adds, deletes int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok {
		return x.adds, len(x.deletes)
	}
	return 0, 0
}
