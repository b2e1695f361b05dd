// Package boltstore is drover's embedded default store.Store: one bbolt file holding every value
// with its mod revision and, in a meta bucket written in the same transaction, the revision
// counter, so revisions keep rising across restarts. Watches are served from an in-process
// history (store.Hub): after a reopen, a watch can resume only from the current revision on.
package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/drover-ci/drover/cluster/store"
)

// Options tune Open. The zero value gives the defaults.
type Options struct {
	// History is how many events are kept for watches that resume from the past
	// (default DefaultHistory).
	History int
	// LockTimeout bounds the wait for the file lock another process may hold
	// (default DefaultLockTimeout).
	LockTimeout time.Duration
}

// Defaults for Options.
const (
	DefaultHistory     = 10000
	DefaultLockTimeout = 2 * time.Second
)

var (
	kvBucket   = []byte("kv")
	metaBucket = []byte("meta")
	revKey     = []byte("revision")
)

// Store is a store.Store in one bbolt file. Its methods are safe for concurrent use.
type Store struct {
	path string
	db   *bolt.DB
	hub  *store.Hub

	mu     sync.Mutex // serialises writes, so events are published in revision order
	closed bool
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the store file at path with default options.
func Open(path string) (*Store, error) { return OpenWithOptions(path, Options{}) }

// OpenWithOptions opens the store file at path. If another process holds the file, it fails
// after opts.LockTimeout with an error naming the file.
func OpenWithOptions(path string, opts Options) (*Store, error) {
	if opts.History <= 0 {
		opts.History = DefaultHistory
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        opts.LockTimeout,
		FreelistType:   bolt.FreelistMapType,
		NoFreelistSync: true, // the freelist is rebuilt on open; writes sync less
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("boltstore: open %s: file is locked, is another drover server using it? (waited %v): %w", path, opts.LockTimeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	var rev int64
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(kvBucket); err != nil {
			return err
		}
		meta, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		rev, err = revisionOf(meta)
		return err
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("boltstore: initialise %s: %w", path, err)
	}
	return &Store{path: path, db: db, hub: store.NewHub(opts.History, rev)}, nil
}

// revisionOf reads the revision counter from the meta bucket.
func revisionOf(meta *bolt.Bucket) (int64, error) {
	v := meta.Get(revKey)
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("corrupt revision counter (%d bytes)", len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// encode stores a value after its 8-byte big-endian mod revision.
func encode(rev int64, value []byte) []byte {
	buf := make([]byte, 8+len(value))
	binary.BigEndian.PutUint64(buf, uint64(rev))
	copy(buf[8:], value)
	return buf
}

// decode copies a stored record out of bolt's memory.
func decode(key, raw []byte) (store.KV, error) {
	if len(raw) < 8 {
		return store.KV{}, fmt.Errorf("corrupt record for %q (%d bytes)", key, len(raw))
	}
	return store.KV{
		Key:      string(key),
		Revision: int64(binary.BigEndian.Uint64(raw)),
		Value:    append([]byte{}, raw[8:]...),
	}, nil
}

// wrap adds context to a bbolt error; a closed database counts as an unavailable backend, and a
// full disk is store.ErrNoSpace (bbolt words a failed file growth with %s, so its text is
// matched too).
func (s *Store) wrap(op, key string, err error) error {
	if errors.Is(err, syscall.ENOSPC) || strings.Contains(err.Error(), syscall.ENOSPC.Error()) {
		return fmt.Errorf("boltstore: %s %q: %w", op, key, store.ErrNoSpace)
	}
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("boltstore: %s %q in %s: %w: %w", op, key, s.path, store.ErrUnavailable, err)
	}
	return fmt.Errorf("boltstore: %s %q in %s: %w", op, key, s.path, err)
}

// Get returns the value under key, or store.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (store.KV, error) {
	if err := ctx.Err(); err != nil {
		return store.KV{}, s.wrap("get", key, err)
	}
	var kv store.KV
	err := s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(kvBucket).Get([]byte(key))
		if raw == nil {
			return store.ErrNotFound
		}
		var err error
		kv, err = decode([]byte(key), raw)
		return err
	})
	if err != nil {
		return store.KV{}, s.wrap("get", key, err)
	}
	return kv, nil
}

// List returns the items under prefix sorted by key and the revision of that snapshot.
func (s *Store) List(ctx context.Context, prefix string) ([]store.KV, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, s.wrap("list", prefix, err)
	}
	var (
		items []store.KV
		rev   int64
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		if rev, err = revisionOf(tx.Bucket(metaBucket)); err != nil {
			return err
		}
		c := tx.Bucket(kvBucket).Cursor()
		for k, v := c.Seek([]byte(prefix)); k != nil && strings.HasPrefix(string(k), prefix); k, v = c.Next() {
			kv, err := decode(k, v)
			if err != nil {
				return err
			}
			items = append(items, kv)
		}
		return nil
	})
	if err != nil {
		return nil, 0, s.wrap("list", prefix, err)
	}
	return items, rev, nil
}

// Watch streams changes under prefix after revision from (0: from now on). A from older than
// the in-process history, including any revision before this Open, fails with
// store.ErrCompacted.
func (s *Store) Watch(ctx context.Context, prefix string, from int64) (<-chan store.Event, error) {
	ch, err := s.hub.Watch(ctx, prefix, from)
	if err != nil {
		return nil, fmt.Errorf("boltstore: %s: %w", s.path, err)
	}
	return ch, nil
}

// Revision returns the newest committed revision.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, s.wrap("revision", "", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, s.wrap("revision", "", berrors.ErrDatabaseNotOpen)
	}
	return s.hub.Revision(), nil
}

// Usage reports the database file's size and the free space of its file system.
func (s *Store) Usage() (store.Usage, error) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return store.Usage{}, fmt.Errorf("boltstore: %w", err)
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(s.path), &fs); err != nil {
		return store.Usage{}, fmt.Errorf("boltstore: statfs: %w", err)
	}
	return store.Usage{SizeBytes: fi.Size(), FreeBytes: int64(fs.Bavail) * int64(fs.Bsize)}, nil
}

// Close ends every watch and closes the file. Later calls fail with store.ErrUnavailable.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.hub.Close()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("boltstore: close %s: %w", s.path, err)
	}
	return nil
}
