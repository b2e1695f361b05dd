package controller

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// ExpectationsTimeout is how long a controller waits for its informer to report the creates
// and deletes it issued before it acts again regardless (Kubernetes' ExpectationsTimeout).
const ExpectationsTimeout = 5 * time.Minute

// Expectations records, per controller key, how many pod creations and which pod deletions were
// issued and not yet observed through the informer: the idea of Kubernetes'
// UIDTrackingControllerExpectations. While a key has pending expectations its sync neither
// creates nor deletes pods, so a lagging cache cannot make a controller act twice. The
// replication manager and the Job controller share it.
type Expectations struct {
	clock clock.PassiveClock
	mu    sync.Mutex
	items map[string]*expectation
}

type expectation struct {
	adds      int
	deletes   map[string]bool // keys of pods whose deletion is awaited
	timestamp time.Time
}

// NewExpectations returns empty expectations timed by c.
func NewExpectations(c clock.PassiveClock) *Expectations {
	return &Expectations{clock: c, items: map[string]*expectation{}}
}

// Satisfied reports whether key may act: nothing is pending, there is no record, or the
// record is older than ExpectationsTimeout.
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.items[key]
	if !ok || (x.adds <= 0 && len(x.deletes) == 0) {
		return true
	}
	return e.clock.Since(x.timestamp) > ExpectationsTimeout
}

// Expect records that adds pods are about to be created and the pods named by podKeys deleted
// for key, replacing any earlier record.
func (e *Expectations) Expect(key string, adds int, podKeys []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{adds: adds, deletes: map[string]bool{}, timestamp: e.clock.Now()}
	for _, k := range podKeys {
		x.deletes[k] = true
	}
	e.items[key] = x
}

// CreationObserved lowers the pending creations of key by one (a pod was seen or a create
// failed).
func (e *Expectations) CreationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok && x.adds > 0 {
		x.adds--
	}
}

// DeletionObserved marks the deletion of podKey as seen; seeing it twice counts once.
func (e *Expectations) DeletionObserved(key, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok {
		delete(x.deletes, podKey)
	}
}

// Forget drops the record of key (its object is gone).
func (e *Expectations) Forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.items, key)
}

// Pending returns the creations and deletions key still waits for (tests and logs).
func (e *Expectations) Pending(key string) (adds, deletes int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok {
		return x.adds, len(x.deletes)
	}
	return 0, 0
}
