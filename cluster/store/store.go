// Package store defines drover's storage seam: opaque values under string keys, each with the
// revision at which it was last written. The API server is the only user; resourceVersion is the
// store revision. Implementations: memstore (tests), boltstore (embedded default), consulstore.
//
// Guarantees every implementation gives (checked by storetest):
//   - revisions are positive and strictly increase with every successful write;
//   - Create fails with ErrExists if the key is present; Update and Delete with an expected
//     revision fail with ErrConflict when the stored revision differs, ErrNotFound when absent;
//   - List returns the items under a prefix sorted by key and a revision at least as new as
//     every item, from which a Watch sees every later change under that prefix;
//   - a Watch delivers events under its prefix in revision order, never loses a delete, and its
//     final state matches the store; events between two observations may coalesce (consulstore);
//   - Watch from a revision older than the retained history fails with ErrCompacted (HTTP 410).
package store

import (
	"context"
	"errors"
)

// Errors returned by every Store. Wrap with %w; test with errors.Is.
var (
	ErrNotFound  = errors.New("store: key not found")
	ErrExists    = errors.New("store: key already exists")
	ErrConflict  = errors.New("store: revision conflict")
	ErrCompacted = errors.New("store: requested revision is older than the retained history")
	// ErrUnavailable means the backend could not be reached; the API server answers 503.
	ErrUnavailable = errors.New("store: backend unavailable")
	// ErrNoSpace means a write failed because the store's disk is full (ENOSPC); the API server
	// answers 507 and reports not ready until a write succeeds again. Deletes free space.
	ErrNoSpace = errors.New("store: no space left on the store's disk")
)

// Usage is what a store on a local disk reports for its metrics: the bytes it takes, the
// bytes still free on its file system, and the bytes of free pages inside its file (space
// deletes freed that later writes reuse and compaction gives back to the file system).
type Usage struct {
	SizeBytes, FreeBytes, FreePageBytes int64
}

// UsageReporter is implemented by stores that can report their disk usage.
type UsageReporter interface {
	Usage() (Usage, error)
}

// KV is one stored value and the revision of its last write.
type KV struct {
	Key      string
	Value    []byte
	Revision int64
}

// EventType says what happened to a key.
type EventType int

const (
	Put    EventType = iota + 1 // created or updated; Created tells which
	Delete                      // removed; PrevValue holds the last value
	// Error ends a watch: Err says why (ErrCompacted when the watcher fell too far behind).
	Error
)

// Event is one change seen by a Watch.
type Event struct {
	Type      EventType
	Key       string
	Value     []byte // new value (Put)
	PrevValue []byte // value before the change (update or delete); nil for a create
	Created   bool   // Put of a key that did not exist before
	Revision  int64  // revision of this change
	Err       error  // Type == Error
}

// Store is the storage seam of DESIGN §4.
type Store interface {
	// Get returns the value under key, or ErrNotFound.
	Get(ctx context.Context, key string) (KV, error)
	// List returns all items whose key starts with prefix, sorted by key, and the store revision
	// the listing reflects.
	List(ctx context.Context, prefix string) ([]KV, int64, error)
	// Create stores value under a new key and returns its revision, or ErrExists.
	Create(ctx context.Context, key string, value []byte) (int64, error)
	// Update replaces the value if its revision is still expected (0: any) and returns the new
	// revision; ErrConflict or ErrNotFound otherwise.
	Update(ctx context.Context, key string, value []byte, expected int64) (int64, error)
	// Delete removes key if its revision is still expected (0: any); ErrConflict or ErrNotFound
	// otherwise. It returns the revision of the deletion where the backend knows it, else 0.
	Delete(ctx context.Context, key string, expected int64) (int64, error)
	// Watch streams changes under prefix with a revision greater than from (0: from now on).
	// The channel is closed when ctx ends or after an Error event.
	Watch(ctx context.Context, prefix string, from int64) (<-chan Event, error)
	// Revision returns the newest revision the store has seen.
	Revision(ctx context.Context) (int64, error)
	// Close releases the backend.
	Close() error
}
