package watchcache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/drover-ci/drover/cluster/store"
)

// Defaults of Config.
const (
	DefaultHistory          = 4096
	DefaultWatcherBuffer    = 256
	DefaultBookmarkInterval = time.Minute
	// DefaultCompactInterval is kube-apiserver's --etcd-compaction-interval.
	DefaultCompactInterval = 5 * time.Minute
	// DefaultFreshTimeout bounds how long a read waits for the cache to reach a revision
	// (Kubernetes' waitUntilFreshAndBlock waits 3 s); the caller then reads the store.
	DefaultFreshTimeout = 3 * time.Second
)

// Config configures a Cacher.
type Config struct {
	Store     store.Store
	Resources []Resource
	// History is how many events each resource keeps for watches resuming from the past and
	// for continuing paged lists (default DefaultHistory).
	History int
	// WatcherBuffer is how many undelivered events a watcher may hold before it is closed
	// (default DefaultWatcherBuffer).
	WatcherBuffer int
	// BookmarkInterval is how often watchers that allow bookmarks get one (default a minute).
	BookmarkInterval time.Duration
	// FreshTimeout bounds WaitFresh (default DefaultFreshTimeout).
	FreshTimeout time.Duration
	// CompactInterval is how often the rings are compacted as kube-apiserver compacts etcd
	// (default DefaultCompactInterval; negative: never): each round drops the events at or
	// below the revision the round before saw, so a continue token, an exact list or a watch
	// from before that revision is answered 410 even in a quiet cluster whose rings never fill.
	CompactInterval time.Duration
	Logger          *slog.Logger
}

// Cacher keeps every configured resource's objects and recent events, fed by one store watch.
// Run it; until it is ready (and while it re-initialises after losing its watch) its reads
// fail with ErrNotReady and callers read the store.
type Cacher struct {
	cfg   Config
	log   *slog.Logger
	mu    sync.RWMutex
	fresh *sync.Cond // broadcast (with mu held for writing) when rev or ready changes
	ready bool
	// running: Run is running, so a read may wait for the cache to become ready.
	running bool
	// initialized: the cache has been ready once since Run started (a later not-ready is a
	// re-initialisation after losing its store watch).
	initialized bool
	rev         int64             // every store event up to rev has been applied
	caches      map[string]*cache // by Resource.Prefix
	known       map[string]bool   // every Resource.Prefix
}

// New returns a Cacher over cfg.Store; Run starts it.
func New(cfg Config) *Cacher {
	if cfg.History <= 0 {
		cfg.History = DefaultHistory
	}
	if cfg.WatcherBuffer <= 0 {
		cfg.WatcherBuffer = DefaultWatcherBuffer
	}
	if cfg.BookmarkInterval <= 0 {
		cfg.BookmarkInterval = DefaultBookmarkInterval
	}
	if cfg.FreshTimeout <= 0 {
		cfg.FreshTimeout = DefaultFreshTimeout
	}
	if cfg.CompactInterval == 0 {
		cfg.CompactInterval = DefaultCompactInterval
	}
	c := &Cacher{cfg: cfg, log: cfg.Logger, caches: map[string]*cache{}, known: map[string]bool{}}
	for _, r := range cfg.Resources {
		c.known[r.Prefix] = true
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.fresh = sync.NewCond(&c.mu)
	return c
}

// Run keeps the cache until ctx ends: it lists every resource, watches the store, applies and
// fans out its events, and starts over (closing every watcher) when the store watch fails.
func (c *Cacher) Run(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.fresh.Broadcast()
		c.mu.Unlock()
	})
	defer stop()
	c.mu.Lock()
	c.running = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.running, c.initialized = false, false
		c.fresh.Broadcast()
		c.mu.Unlock()
	}()
	go c.bookmarks(ctx)
	if c.cfg.CompactInterval > 0 {
		go c.compactor(ctx)
	}
	for {
		err := c.runOnce(ctx)
		c.reset()
		if ctx.Err() != nil {
			return
		}
		c.log.Warn("watch cache restarting", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// compactor compacts every resource's ring each CompactInterval to the revision the cache had
// reached at the round before, as kube-apiserver's compactor compacts etcd (so what is dropped
// is always at least one interval old).
func (c *Cacher) compactor(ctx context.Context) {
	tick := time.NewTicker(c.cfg.CompactInterval)
	defer tick.Stop()
	var prev int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		c.mu.Lock()
		if prev > 0 && c.ready {
			for _, ch := range c.caches {
				ch.compact(prev)
			}
		}
		if c.ready {
			prev = c.rev
		}
		c.mu.Unlock()
	}
}

// reset marks the cache not ready and closes every watcher.
func (c *Cacher) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ready = false
	for _, ch := range c.caches {
		for _, set := range ch.plain {
			for w := range set {
				c.closeWatcher(ch, w)
			}
		}
		for _, set := range ch.indexed {
			for w := range set {
				c.closeWatcher(ch, w)
			}
		}
	}
	c.caches = map[string]*cache{}
	c.fresh.Broadcast()
}

func (c *Cacher) runOnce(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if len(c.cfg.Resources) == 0 {
		<-ctx.Done()
		return ctx.Err()
	}
	// Watch first, then list: the store watch buffers what is written while the resources
	// are listed, and every listing is at least as new as the watch's start.
	start, err := c.cfg.Store.Revision(ctx)
	if err != nil {
		return fmt.Errorf("read the store revision: %w", err)
	}
	events, err := c.cfg.Store.Watch(ctx, "", start)
	if err != nil {
		return fmt.Errorf("watch the store from revision %d: %w", start, err)
	}
	caches := map[string]*cache{}
	from := int64(math.MaxInt64)
	for _, res := range c.cfg.Resources {
		ch, err := c.load(ctx, res)
		if err != nil {
			return err
		}
		if ch.listRev < start {
			return fmt.Errorf("list %s at revision %d, older than the watch's start %d", res.Prefix, ch.listRev, start)
		}
		caches[res.Prefix] = ch
		from = min(from, ch.listRev)
	}
	c.mu.Lock()
	c.caches, c.rev, c.ready, c.initialized = caches, from, true, true
	c.fresh.Broadcast()
	c.mu.Unlock()
	c.log.Debug("watch cache ready", "resources", len(caches), "revision", from)
	// applied is the newest revision applied and appliedKeys the keys applied at it (a backend
	// may publish several changes at one revision): a store watch that fell behind is resumed
	// from the revision before, skipping what was applied, so that neither the cache nor its
	// watchers start over while the store still holds the events missed.
	applied, appliedKeys := start, map[string]struct{}{}
	for {
		var watchErr error
		for ev := range events {
			if ev.Type == store.Error {
				watchErr = ev.Err
				break
			}
			if _, done := appliedKeys[ev.Key]; ev.Revision < applied || (ev.Revision == applied && done) {
				continue
			}
			if err := c.apply(caches, ev); err != nil {
				return err
			}
			if ev.Revision > applied {
				applied, appliedKeys = ev.Revision, map[string]struct{}{}
			}
			appliedKeys[ev.Key] = struct{}{}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if watchErr == nil {
			return errors.New("store watch closed")
		}
		if !errors.Is(watchErr, store.ErrCompacted) {
			return fmt.Errorf("store watch ended: %w", watchErr)
		}
		resumed, err := c.cfg.Store.Watch(ctx, "", applied-1)
		if err != nil {
			return fmt.Errorf("store watch ended (%w) and cannot resume from revision %d: %w", watchErr, applied, err)
		}
		c.log.Info("watch cache resumed its store watch after falling behind", "revision", applied, "error", watchErr)
		events = resumed
	}
}

// load lists one resource.
func (c *Cacher) load(ctx context.Context, res Resource) (*cache, error) {
	kvs, rev, err := c.cfg.Store.List(ctx, res.Prefix)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", res.Prefix, err)
	}
	ch := newCache(res, c.cfg.History, make(map[string]*Entry, len(kvs)), rev)
	for _, kv := range kvs {
		obj, err := res.Decode(kv.Value, kv.Revision)
		if err != nil {
			// One bad value must not keep the whole cache from starting.
			c.log.Warn("watch cache skips an object it cannot decode", "key", kv.Key, "error", err)
			continue
		}
		ch.items[kv.Key] = ch.entry(kv.Key, obj, kv.Revision)
	}
	return ch, nil
}

// cacheOf finds the cache of key: its prefix is the key up to its second "/" (GROUP/RESOURCE/).
func cacheOf(caches map[string]*cache, key string) *cache {
	i := strings.IndexByte(key, '/')
	if i < 0 {
		return nil
	}
	j := strings.IndexByte(key[i+1:], '/')
	if j < 0 {
		return nil
	}
	return caches[key[:i+1+j+1]]
}

// apply decodes one store event (outside the lock), then applies it and offers it to the
// watchers that can match it.
func (c *Cacher) apply(caches map[string]*cache, ev store.Event) error {
	ch := cacheOf(caches, ev.Key)
	if ch == nil || ev.Revision <= ch.listRev {
		c.advance(ev.Revision)
		return nil
	}
	prev := ch.items[ev.Key] // only this goroutine writes items
	var out *Event
	switch ev.Type {
	case store.Put:
		obj, err := ch.res.Decode(ev.Value, ev.Revision)
		if err != nil {
			c.log.Warn("watch cache skips a value it cannot decode", "key", ev.Key, "revision", ev.Revision, "error", err)
			c.advance(ev.Revision)
			return nil
		}
		out = &Event{Type: Put, Revision: ev.Revision, Object: ch.entry(ev.Key, obj, ev.Revision), Prev: prev}
	case store.Delete:
		var last runtime.Object
		switch {
		case prev != nil:
			last = prev.Object.DeepCopyObject()
			if m, err := meta.Accessor(last); err == nil {
				m.SetResourceVersion(fmt.Sprint(ev.Revision))
			}
		case ev.PrevValue != nil:
			obj, err := ch.res.Decode(ev.PrevValue, ev.Revision)
			if err != nil {
				c.log.Warn("watch cache skips a value it cannot decode", "key", ev.Key, "revision", ev.Revision, "error", err)
				c.advance(ev.Revision)
				return nil
			}
			last = obj
		default:
			c.advance(ev.Revision)
			return nil
		}
		out = &Event{Type: Delete, Revision: ev.Revision, Object: ch.entry(ev.Key, last, ev.Revision), Prev: prev}
	default:
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if out.Type == Delete {
		delete(ch.items, ev.Key)
	} else {
		ch.items[ev.Key] = out.Object
	}
	ch.record(out)
	c.dispatch(ch, out)
	if ev.Revision > c.rev {
		c.rev = ev.Revision
	}
	c.fresh.Broadcast()
	return nil
}

func (c *Cacher) advance(rev int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rev > c.rev {
		c.rev = rev
		c.fresh.Broadcast()
	}
}

// WaitFresh waits until the cache is ready and has applied every store event up to rev
// (ErrNotReady when it is not running, or does not get there within Config.FreshTimeout: the
// caller reads the store).
func (c *Cacher) WaitFresh(ctx context.Context, rev int64) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.FreshTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.fresh.Broadcast()
		c.mu.Unlock()
	})
	defer stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.running && (!c.ready || c.rev < rev) && ctx.Err() == nil {
		c.fresh.Wait()
	}
	if !c.ready || c.rev < rev {
		return ErrNotReady
	}
	return nil
}

// Initialized reports whether the cache is running and has been ready since it started: a
// read it cannot serve now (not ready again, or behind) is then better retried than sent to
// the store.
func (c *Cacher) Initialized() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.running && c.initialized
}

// Reinitializing reports whether the cache is running, has been ready, and is not ready now
// (it lost its store watch and is listing again).
func (c *Cacher) Reinitializing() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.running && c.initialized && !c.ready
}

// WaitReady waits until the cache is ready (ErrNotReady when ctx ends first).
func (c *Cacher) WaitReady(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.fresh.Broadcast()
		c.mu.Unlock()
	})
	defer stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for !c.ready && ctx.Err() == nil {
		c.fresh.Wait()
	}
	if !c.ready {
		return ErrNotReady
	}
	return nil
}

// WaitStoreFresh is a consistent read's freshness check (Kubernetes 1.31's consistent reads
// from cache): it reads the store's current revision and waits until the cache has it.
func (c *Cacher) WaitStoreFresh(ctx context.Context) error {
	rev, err := c.cfg.Store.Revision(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotReady, err)
	}
	return c.WaitFresh(ctx, rev)
}

// List returns the entries of the resource under prefix whose key is at least start, sorted by
// key, at revision rev (0: the newest) and that revision. An older rev is rebuilt from the
// ring (ErrTooOld when it is older than the ring).
func (c *Cacher) List(resPrefix, prefix, start string, rev int64) ([]*Entry, int64, error) {
	c.mu.RLock()
	ch := c.caches[resPrefix]
	if !c.ready || ch == nil {
		c.mu.RUnlock()
		return nil, 0, ErrNotReady
	}
	current := max(c.rev, ch.listRev)
	if rev == 0 || rev > current {
		rev = current
	}
	entries, err := ch.snapshot(prefix, start, rev, current)
	c.mu.RUnlock()
	if err != nil {
		return nil, 0, err
	}
	SortByKey(entries)
	return entries, rev, nil
}
