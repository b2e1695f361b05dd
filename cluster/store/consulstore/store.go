// Package consulstore is the store.Store on Consul's KV store: a key's revision is its
// ModifyIndex (shifted, see revision.go), writes are check-and-set transactions, and one
// background loop per Store follows the whole prefix with blocking queries and feeds a
// store.Hub that serves every Watch. Events seen between two blocking responses may coalesce.
package consulstore

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/consul/api"

	"github.com/drover-ci/drover/cluster/store"
)

// Store is a store.Store on Consul. It is safe for concurrent use.
type Store struct {
	cfg    Config
	prefix string      // normalized Config.Prefix
	kv     *api.KV     // requests bounded by Config.Timeout
	client *api.Client // for /v1/txn
	hub    *store.Hub
	seen   atomic.Int64 // newest revision this Store returned or published
	// watchErr holds the watch loop's last error while its blocking queries fail (Consul down,
	// or without a leader), nil while they succeed.
	watchErr atomic.Pointer[error]

	loop      *loop
	cancel    context.CancelFunc
	loopDone  chan struct{}
	closeOnce sync.Once
}

var _ store.Store = (*Store)(nil)

// New connects to Consul, reads the current contents under the prefix and starts the watch
// loop. It fails (with store.ErrUnavailable when Consul cannot be reached) if that first read
// does.
func New(cfg Config) (*Store, error) {
	cfg = cfg.withDefaults()
	prefix, err := normalizePrefix(cfg.Prefix)
	if err != nil {
		return nil, err
	}
	client, err := cfg.client(cfg.Timeout)
	if err != nil {
		return nil, err
	}
	watchClient, err := cfg.client(cfg.WaitTime + cfg.WaitTime/16 + cfg.Timeout)
	if err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, prefix: prefix, kv: client.KV(), client: client, loopDone: make(chan struct{})}
	l := &loop{s: s, kv: watchClient.KV(), txn: client, log: cfg.Logger.With("component", "consulstore", "prefix", prefix)}
	s.loop = l
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	index, err := l.init(ctx)
	if err != nil {
		return nil, wrap(ctx, "list", prefix, err)
	}
	s.hub = store.NewHub(cfg.History, listRev(index))
	s.seen.Store(listRev(index))
	loopCtx, stop := context.WithCancel(context.Background())
	s.cancel = stop
	go func() {
		defer close(s.loopDone)
		var sweeper sync.WaitGroup
		sweeper.Go(func() { s.sweep(loopCtx) })
		l.run(loopCtx, index)
		sweeper.Wait()
	}()
	return s, nil
}

// observe records rev as seen and returns it.
func (s *Store) observe(rev int64) int64 {
	for {
		cur := s.seen.Load()
		if rev <= cur || s.seen.CompareAndSwap(cur, rev) {
			return rev
		}
	}
}

// Get returns the value under key. Reads are `consistent` (checked with the raft leader), as
// every read may decide a write: the default mode can answer from a deposed leader.
func (s *Store) Get(ctx context.Context, key string) (store.KV, error) {
	p, _, err := s.kv.Get(s.prefix+encodeKey(key), (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx))
	if err != nil {
		return store.KV{}, wrap(ctx, "get", key, err)
	}
	if p == nil {
		return store.KV{}, fmt.Errorf("consulstore: get %q: %w", key, store.ErrNotFound)
	}
	return store.KV{Key: key, Value: p.Value, Revision: s.observe(revOf(p.ModifyIndex))}, nil
}

// List returns the items under prefix sorted by key, and a revision from which a Watch sees
// every later change under prefix.
func (s *Store) List(ctx context.Context, prefix string) ([]store.KV, int64, error) {
	// Every revision seen so far was committed before this read starts, so the read reflects it.
	before := s.seen.Load()
	enc := encodePrefix(prefix)
	query := enc
	if unaddressable(enc) {
		query = enc[:strings.LastIndexByte(enc, '/')+1]
	}
	pairs, meta, err := s.kv.List(s.prefix+query, (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx))
	if err != nil {
		return nil, 0, wrap(ctx, "list", prefix, err)
	}
	items := make([]store.KV, 0, len(pairs))
	for _, p := range pairs {
		key, err := decodeKey(strings.TrimPrefix(p.Key, s.prefix))
		if err != nil || !strings.HasPrefix(key, prefix) {
			continue // not written by a Store, or outside an unaddressable prefix
		}
		items = append(items, store.KV{Key: key, Value: p.Value, Revision: revOf(p.ModifyIndex)})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Key < items[j].Key })
	// LastIndex is the newest write under the prefix (or of the whole KV table when the prefix
	// was never written); the revisions seen keep a quiet prefix from lagging the history.
	return items, s.observe(max(listRev(meta.LastIndex), before)), nil
}

// Watch streams changes under prefix after revision from (0: the newest revision this Store
// has seen).
func (s *Store) Watch(ctx context.Context, prefix string, from int64) (<-chan store.Event, error) {
	if from == 0 {
		from = s.seen.Load()
	}
	return s.hub.Watch(ctx, prefix, from)
}

// Revision returns the newest revision this Store has written, read or seen in the watch loop.
// It also reads one key through Consul's raft leader, and fails (with the revision) with an
// error wrapping store.ErrUnavailable when that read does or while the watch loop's blocking
// queries fail: readiness checks then report a Consul that is unreachable or has no leader.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	s.observe(s.hub.Revision())
	if p := s.watchErr.Load(); p != nil {
		return s.seen.Load(), fmt.Errorf("consulstore: watch of %q failing: %w: %w", s.prefix, store.ErrUnavailable, *p)
	}
	if _, _, err := s.kv.Get(s.prefix+readyKey, (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx)); err != nil {
		return s.seen.Load(), wrap(ctx, "read", readyKey, err)
	}
	return s.seen.Load(), nil
}

// readyKey is the key Revision reads (it is never written, so the read is small).
const readyKey = "drover-ready-check"

// Close stops the watch loop and ends every watch. It does not touch Consul's data.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		<-s.loopDone
		s.hub.Close()
	})
	return nil
}

// Prefix returns the Consul key prefix the Store keeps its keys under ("" or ending in "/").
func (s *Store) Prefix() string { return s.prefix }
