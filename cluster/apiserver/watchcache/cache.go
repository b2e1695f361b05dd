// Package watchcache is the API server's watch cache, modelled on Kubernetes' cacher
// (k8s.io/apiserver/pkg/storage/cacher): one store watch feeds, for every cached resource, an
// in-memory copy of the current objects and a ring of recent events. Each store event is
// decoded once and its JSON encoded at most once, shared by every watcher and list that sends
// it; watchers are indexed by namespace and by one field (spec.nodeName for pods), so an event
// is offered only to watchers that can match it; a watcher whose bounded buffer fills is closed
// (its client re-lists or resumes) instead of slowing the writers.
//
// The Cacher watches the whole store with one store.Watch, so its revision follows every write
// in order: a read that needs the state at revision R waits until the Cacher has seen R (as
// Kubernetes' waitUntilFreshAndBlock), and a list at an older revision still in the ring is
// rebuilt from the current objects and the events since (paging's continue tokens).
package watchcache

import (
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
)

// Errors of the Cacher's reads.
var (
	// ErrTooOld: the revision asked for is older than the cache's ring (HTTP 410).
	ErrTooOld = errors.New("watchcache: revision is older than the cached history")
	// ErrNotReady: the cache is (re)initialising or not started; callers use the store.
	ErrNotReady = errors.New("watchcache: not ready")
)

// Resource describes one cached resource.
type Resource struct {
	// Prefix is the store key prefix of every object of the resource, ending in "/".
	Prefix string
	// Namespaced resources have keys PREFIX/NAMESPACE/NAME.
	Namespaced bool
	// Decode reads a stored value and sets its resourceVersion to rev.
	Decode func(value []byte, rev int64) (runtime.Object, error)
	// Index, when set, returns the value of the field watchers are indexed by (for pods
	// spec.nodeName).
	Index func(obj runtime.Object) string
}

// Entry is one object in the cache. Entries are shared and immutable: readers must not modify
// Object.
type Entry struct {
	Key       string
	Namespace string
	Index     string
	Revision  int64
	Object    runtime.Object

	once sync.Once
	raw  []byte
	err  error
}

// JSON is the object's JSON encoding, computed once and shared.
func (e *Entry) JSON() ([]byte, error) {
	e.once.Do(func() { e.raw, e.err = json.Marshal(e.Object) })
	return e.raw, e.err
}

// EventType says what an Event is.
type EventType int

const (
	Put      EventType = iota + 1 // created or updated (Prev is nil for a create)
	Delete                        // deleted: Object is the last state with the deletion's revision
	Bookmark                      // progress: every event up to Revision was delivered
)

// Event is one change of a cached resource.
type Event struct {
	Type     EventType
	Revision int64
	// Object is the new state (Put) or the deleted object (Delete); Prev the state before
	// (nil for a create). Nil for a Bookmark.
	Object, Prev *Entry
}

// cache is one resource's objects, ring of events and watchers. Guarded by Cacher.mu.
type cache struct {
	res     Resource
	items   map[string]*Entry
	listRev int64 // the revision the items were listed at
	ring    []*Event
	start   int
	n       int
	floor   int64 // every event with a revision above floor is in the ring
	// plain watchers by namespace ("" for all namespaces); indexed ones by index value.
	plain   map[string]map[*Watcher]struct{}
	indexed map[string]map[*Watcher]struct{}
}

func newCache(res Resource, capacity int, items map[string]*Entry, rev int64) *cache {
	return &cache{res: res, items: items, listRev: rev, floor: rev, ring: make([]*Event, capacity),
		plain: map[string]map[*Watcher]struct{}{}, indexed: map[string]map[*Watcher]struct{}{}}
}

// namespaceOf is the namespace part of a key of a namespaced resource.
func (c *cache) namespaceOf(key string) string {
	if !c.res.Namespaced {
		return ""
	}
	rest := strings.TrimPrefix(key, c.res.Prefix)
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return rest[:i]
	}
	return ""
}

func (c *cache) entry(key string, obj runtime.Object, rev int64) *Entry {
	e := &Entry{Key: key, Namespace: c.namespaceOf(key), Revision: rev, Object: obj}
	if c.res.Index != nil {
		e.Index = c.res.Index(obj)
	}
	return e
}

func (c *cache) record(ev *Event) {
	capacity := len(c.ring)
	if capacity == 0 {
		c.floor = ev.Revision
		return
	}
	if c.n == capacity {
		c.floor = c.ring[c.start].Revision
		c.ring[c.start] = ev
		c.start = (c.start + 1) % capacity
		return
	}
	c.ring[(c.start+c.n)%capacity] = ev
	c.n++
}

// compact drops the ring's events at or below rev and raises the floor to rev: reads and
// watches from before rev are then ErrTooOld, as after an etcd compaction.
func (c *cache) compact(rev int64) {
	if rev <= c.floor {
		return
	}
	for c.n > 0 && c.at(0).Revision <= rev {
		c.ring[c.start] = nil
		c.start = (c.start + 1) % len(c.ring)
		c.n--
	}
	c.floor = rev
}

func (c *cache) at(i int) *Event { return c.ring[(c.start+i)%len(c.ring)] }

// since returns the retained events with a revision above rev, oldest first.
func (c *cache) since(rev int64) []*Event {
	first := sort.Search(c.n, func(i int) bool { return c.at(i).Revision > rev })
	out := make([]*Event, 0, c.n-first)
	for i := first; i < c.n; i++ {
		out = append(out, c.at(i))
	}
	return out
}

// snapshot returns the entries under prefix (a namespace's or the resource's) whose key is at
// least start, at revision rev (≤ the cache's revision; ErrTooOld below the ring), unsorted.
func (c *cache) snapshot(prefix, start string, rev, current int64) ([]*Entry, error) {
	if rev < c.floor && rev < current {
		return nil, ErrTooOld
	}
	var changed map[string]*Entry // key → state at rev (nil: absent) for keys written after rev
	if rev < current {
		changed = map[string]*Entry{}
		for _, ev := range c.since(rev) {
			key := ev.Object.Key
			if _, seen := changed[key]; !seen {
				changed[key] = ev.Prev
			}
		}
	}
	out := make([]*Entry, 0, len(c.items))
	for key, e := range c.items {
		if _, ok := changed[key]; ok || !strings.HasPrefix(key, prefix) || key < start {
			continue
		}
		out = append(out, e)
	}
	for key, e := range changed {
		if e != nil && strings.HasPrefix(key, prefix) && key >= start {
			out = append(out, e)
		}
	}
	return out, nil
}

// SortByKey sorts entries by their store key (the order of a store List).
func SortByKey(entries []*Entry) {
	sort.Slice(entries, func(i, j int) bool { return entries[i].Key < entries[j].Key })
}
