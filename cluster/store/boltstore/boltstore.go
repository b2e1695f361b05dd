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
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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
	// CompactInterval is how often the free pages are checked for compaction (default
	// DefaultCompactInterval); a write that finds the disk full also triggers a check.
	CompactInterval time.Duration
	// The file is compacted when its free pages reach CompactMinFree bytes (default
	// DefaultCompactMinFree) and CompactRatio of the pages bbolt has allocated, used or free
	// (default DefaultCompactRatio), or
	// hold any free page while the disk is full. A negative CompactMinFree turns the
	// automatic compaction off (Compact still works).
	CompactMinFree int64
	CompactRatio   float64
	// SweepInterval is how often keys whose TTL ran out are deleted (default
	// store.DefaultSweepInterval).
	SweepInterval time.Duration
	// Logger receives compaction reports and slow-commit warnings (default: discarded).
	Logger *slog.Logger
	// InitialMmapSize is how much of the file bbolt maps at open (default
	// DefaultInitialMmapSize, as etcd). A write that grows the file past the mapping must remap
	// it, and a remap waits for every open read transaction to end while blocking new ones
	// (bbolt's documented behaviour): with a small mapping, one long read (a list of 50,000
	// pods) stalled every write and read for seconds, and the controller manager lost its
	// Lease. The mapping is address space, not memory: pages are read in as they are used.
	InitialMmapSize int
	// SlowCommit is how long a commit (one batch of writes, one fsync) may take before the
	// store logs a warning saying where the time went (default DefaultSlowCommit).
	SlowCommit time.Duration
}

func (o Options) withDefaults() Options {
	if o.History <= 0 {
		o.History = DefaultHistory
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.CompactInterval <= 0 {
		o.CompactInterval = DefaultCompactInterval
	}
	if o.CompactMinFree == 0 {
		o.CompactMinFree = DefaultCompactMinFree
	}
	if o.CompactRatio <= 0 {
		o.CompactRatio = DefaultCompactRatio
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = store.DefaultSweepInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SlowCommit <= 0 {
		o.SlowCommit = DefaultSlowCommit
	}
	if o.InitialMmapSize <= 0 {
		o.InitialMmapSize = DefaultInitialMmapSize
	}
	return o
}

// Defaults for Options.
const (
	DefaultHistory     = 10000
	DefaultLockTimeout = 2 * time.Second
	// DefaultInitialMmapSize is etcd's: 10 GiB of address space, so that a store of up to
	// that size never remaps.
	DefaultInitialMmapSize = 10 << 30
	// DefaultSlowCommit: etcd warns of a "slow fdatasync" from one second on.
	DefaultSlowCommit = time.Second
)

var (
	kvBucket   = []byte("kv")
	metaBucket = []byte("meta")
	revKey     = []byte("revision")
)

// Store is a store.Store in one bbolt file. Its methods are safe for concurrent use.
//
// Writes go through a commit queue (write.go): concurrent writes share one transaction and one
// fsync, and their events are published in revision order after the commit.
type Store struct {
	path string
	opts Options
	hub  *store.Hub

	dbmu sync.RWMutex // guards db: transactions hold it shared, a compaction swaps db holding it
	db   *bolt.DB

	qmu    sync.Mutex // guards queue and closed
	queue  []*request
	closed bool

	commit  sync.Mutex   // held by the writer committing a batch: one batch at a time, in order
	commits atomic.Int64 // transactions committed

	compactions atomic.Int64
	noSpace     chan struct{} // capacity 1: a write found the disk full
	stopBg      context.CancelFunc
	bg          sync.WaitGroup // the compactor and the TTL sweeper
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the store file at path with default options.
func Open(path string) (*Store, error) { return OpenWithOptions(path, Options{}) }

// OpenWithOptions opens the store file at path. If another process holds the file, it fails
// after opts.LockTimeout with an error naming the file.
func OpenWithOptions(path string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	_ = os.Remove(path + ".compact") // a compaction the process did not finish
	db, err := openDB(path, opts)
	if err != nil {
		return nil, err
	}
	var rev int64
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(kvBucket); err != nil {
			return err
		}
		for _, b := range [][]byte{ttlBucket, expiryBucket} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
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
	s := &Store{path: path, opts: opts, db: db, hub: store.NewHub(opts.History, rev), noSpace: make(chan struct{}, 1)}
	var ctx context.Context
	ctx, s.stopBg = context.WithCancel(context.Background())
	if opts.CompactMinFree >= 0 {
		s.bg.Go(func() { s.compactor(ctx) })
	}
	s.bg.Go(func() { s.sweeper(ctx) })
	return s, nil
}

// openDB opens the bbolt file.
func openDB(path string, opts Options) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         opts.LockTimeout,
		FreelistType:    bolt.FreelistMapType,
		NoFreelistSync:  true, // the freelist is rebuilt on open; writes sync less
		InitialMmapSize: opts.InitialMmapSize,
	})
	if errors.Is(err, syscall.ENOMEM) && opts.InitialMmapSize > 0 {
		// An address-space limit (ulimit -v) refuses the mapping: open with bbolt's own
		// sizing, and say what that costs.
		opts.Logger.Warn("boltstore: cannot map the database file ahead; writes that grow it will wait for long reads",
			"path", path, "initialMmapSize", opts.InitialMmapSize, "err", err)
		opts.InitialMmapSize = 0
		return openDB(path, opts)
	}
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("boltstore: open %s: file is locked, is another drover server using it? (waited %v): %w", path, opts.LockTimeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	return db, nil
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
	s.dbmu.RLock()
	defer s.dbmu.RUnlock()
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
	s.dbmu.RLock()
	defer s.dbmu.RUnlock()
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
	s.qmu.Lock()
	closed := s.closed
	s.qmu.Unlock()
	if closed {
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
	u := store.Usage{SizeBytes: fi.Size(), FreeBytes: int64(fs.Bavail) * int64(fs.Bsize)}
	if sp, err := s.Space(); err == nil {
		u.FreePageBytes = sp.FreePageBytes
	}
	return u, nil
}

// Close ends every watch and closes the file. Later calls fail with store.ErrUnavailable.
func (s *Store) Close() error {
	s.qmu.Lock()
	if s.closed {
		s.qmu.Unlock()
		return nil
	}
	s.closed = true
	s.qmu.Unlock()
	s.stopBg()
	s.bg.Wait()
	s.commit.Lock() // the batch in flight commits and publishes first
	defer s.commit.Unlock()
	s.hub.Close()
	s.dbmu.Lock()
	defer s.dbmu.Unlock()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("boltstore: close %s: %w", s.path, err)
	}
	return nil
}
