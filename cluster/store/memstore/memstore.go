// Package memstore is an in-memory store.Store for unit tests: a map guarded by a mutex, with
// watches served by a store.Hub. Nothing survives Close.
package memstore

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/drover-ci/drover/cluster/store"
)

// DefaultHistory is how many events a Store keeps for watches that resume from the past.
const DefaultHistory = 10000

// Store is an in-memory store.Store. Its methods are safe for concurrent use.
type Store struct {
	mu     sync.Mutex // serialises writes so that events are published in revision order
	items  map[string]store.KV
	rev    int64
	hub    *store.Hub
	closed bool
	ttls   map[string]expiry // keys created with a TTL
	sweep  *time.Timer       // runs Expire while ttls is not empty
}

var _ store.Store = (*Store)(nil)

// New returns an empty Store keeping DefaultHistory events of watch history.
func New() *Store { return NewWithHistory(DefaultHistory) }

// NewWithHistory returns an empty Store keeping the given number of events of watch history.
func NewWithHistory(history int) *Store {
	return &Store{items: make(map[string]store.KV), ttls: make(map[string]expiry), hub: store.NewHub(history, 0)}
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// check returns the error for a cancelled ctx or a closed store. Callers hold s.mu.
func (s *Store) check(ctx context.Context, op, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %s %q: %w", op, key, err)
	}
	if s.closed {
		return fmt.Errorf("memstore: %s %q: store closed: %w", op, key, store.ErrUnavailable)
	}
	return nil
}

// Get returns the value under key, or store.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (store.KV, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, "get", key); err != nil {
		return store.KV{}, err
	}
	kv, ok := s.items[key]
	if !ok {
		return store.KV{}, fmt.Errorf("memstore: get %q: %w", key, store.ErrNotFound)
	}
	kv.Value = clone(kv.Value)
	return kv, nil
}

// List returns the items under prefix sorted by key and the current revision.
func (s *Store) List(ctx context.Context, prefix string) ([]store.KV, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, "list", prefix); err != nil {
		return nil, 0, err
	}
	var out []store.KV
	for k, kv := range s.items {
		if strings.HasPrefix(k, prefix) {
			kv.Value = clone(kv.Value)
			out = append(out, kv)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, s.rev, nil
}

// Create stores value under a new key, or fails with store.ErrExists.
func (s *Store) Create(ctx context.Context, key string, value []byte) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.create(ctx, key, value)
}

// create stores value under a new key. Callers hold s.mu.
func (s *Store) create(ctx context.Context, key string, value []byte) (int64, error) {
	if err := s.check(ctx, "create", key); err != nil {
		return 0, err
	}
	if _, ok := s.items[key]; ok {
		return 0, fmt.Errorf("memstore: create %q: %w", key, store.ErrExists)
	}
	return s.put(key, value, store.KV{}, false), nil
}

// Update replaces the value if its revision is still expected (0: any).
func (s *Store) Update(ctx context.Context, key string, value []byte, expected int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, err := s.current(ctx, "update", key, expected)
	if err != nil {
		return 0, err
	}
	s.renew(key)
	return s.put(key, value, old, true), nil
}

// Delete removes key if its revision is still expected (0: any) and returns the deletion's
// revision.
func (s *Store) Delete(ctx context.Context, key string, expected int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.current(ctx, "delete", key, expected); err != nil {
		return 0, err
	}
	return s.remove(key)
}

// remove deletes key at the next revision and publishes the event. Callers hold s.mu.
func (s *Store) remove(key string) (int64, error) {
	old, ok := s.items[key]
	if !ok {
		return 0, fmt.Errorf("memstore: delete %q: %w", key, store.ErrNotFound)
	}
	s.rev++
	delete(s.items, key)
	delete(s.ttls, key)
	s.hub.Publish(store.Event{Type: store.Delete, Key: key, PrevValue: old.Value, Revision: s.rev})
	return s.rev, nil
}

// current returns the stored item that an update or delete expecting a revision replaces.
// Callers hold s.mu.
func (s *Store) current(ctx context.Context, op, key string, expected int64) (store.KV, error) {
	if err := s.check(ctx, op, key); err != nil {
		return store.KV{}, err
	}
	old, ok := s.items[key]
	if !ok {
		return store.KV{}, fmt.Errorf("memstore: %s %q: %w", op, key, store.ErrNotFound)
	}
	if expected != 0 && old.Revision != expected {
		return store.KV{}, fmt.Errorf("memstore: %s %q: at revision %d, expected %d: %w", op, key, old.Revision, expected, store.ErrConflict)
	}
	return old, nil
}

// put writes key at the next revision and publishes the event. Callers hold s.mu.
func (s *Store) put(key string, value []byte, old store.KV, existed bool) int64 {
	s.rev++
	v := clone(value)
	if v == nil {
		v = []byte{}
	}
	s.items[key] = store.KV{Key: key, Value: v, Revision: s.rev}
	s.hub.Publish(store.Event{Type: store.Put, Key: key, Value: v, PrevValue: old.Value, Created: !existed, Revision: s.rev})
	return s.rev
}

// Watch streams changes under prefix after revision from (0: from now on).
func (s *Store) Watch(ctx context.Context, prefix string, from int64) (<-chan store.Event, error) {
	ch, err := s.hub.Watch(ctx, prefix, from)
	if err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	return ch, nil
}

// Revision returns the newest revision written.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, "revision", ""); err != nil {
		return 0, err
	}
	return s.rev, nil
}

// Close ends every watch; later calls fail with store.ErrUnavailable.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.sweep != nil {
		s.sweep.Stop()
	}
	s.hub.Close()
	return nil
}
