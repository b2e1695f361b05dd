package consulstore

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/drover-ci/drover/cluster/store"
)

// Backoff of the watch loop after a failed blocking query.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// entry is what the loop remembers of one key.
type entry struct {
	value  []byte
	create uint64
	modify uint64
}

// loop follows the Store's whole prefix with blocking queries and publishes the differences
// between consecutive answers into the Store's hub.
type loop struct {
	s    *Store
	kv   *api.KV     // its HTTP timeout is longer than WaitTime
	txn  *api.Client // reads of changed keys and log trims, with the Store's request timeout
	log  *slog.Logger
	snap map[string]*entry
	// logSeen holds the log entries of the last answer (key → index).
	logSeen map[string]uint64
	// pairsRead counts the entries the loop read from Consul after its first list (tests).
	pairsRead atomic.Int64
}

// init reads the prefix once and returns the index the watch starts from.
func (l *loop) init(ctx context.Context) (uint64, error) {
	pairs, meta, err := l.kv.List(l.s.prefix, (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx))
	if err != nil {
		return 0, err
	}
	l.snap = l.entries(pairs)
	return max(meta.LastIndex, 1), nil
}

// run does blocking queries on the change log until ctx ends.
func (l *loop) run(ctx context.Context, index uint64) {
	backoff := minBackoff
	failing := false
	for ctx.Err() == nil {
		last, err := l.step(ctx, index)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !failing {
				l.log.Warn("consul watch failing, retrying with backoff", "err", err)
			}
			failing = true
			l.s.watchErr.Store(&err)
			sleep(ctx, backoff)
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		if failing {
			l.log.Info("consul watch recovered", "index", last)
			l.s.watchErr.Store(nil)
		}
		failing, backoff = false, minBackoff
		switch {
		case last < index:
			// Consul's documented rule: an index that goes backwards (a restore, reaped
			// tombstones) resets the wait to 0 so the next query answers at once.
			index = 0
		case last == 0:
			index = 1
		default:
			index = last
		}
	}
}

// step waits for the change log to move past index, publishes the changes and returns the
// index of the answer. When entries newer than index may have been trimmed, or the index went
// backwards, it re-lists the whole prefix instead.
func (l *loop) step(ctx context.Context, index uint64) (uint64, error) {
	q := (&api.QueryOptions{WaitIndex: index, WaitTime: l.s.cfg.WaitTime}).WithContext(ctx)
	pairs, meta, err := l.kv.List(l.s.prefix+logDir, q)
	if err != nil {
		return 0, err
	}
	l.pairsRead.Add(int64(len(pairs)))
	last := meta.LastIndex
	st := l.readLog(pairs, index)
	if last < index || st.trimmed > index || l.vanished(st) {
		l.remember(st.all)
		return l.relist(ctx, index)
	}
	evs, err := l.follow(ctx, st.news)
	if err != nil {
		return 0, err
	}
	l.s.hub.Publish(l.sequence(evs)...)
	l.remember(st.all)
	if err := l.trim(ctx, st.all, st.trimmed, st.markerIndex); err != nil {
		l.log.Warn("consul change log", "err", err)
	}
	return last, nil
}

// relist reads the whole prefix and publishes its difference from the snapshot.
func (l *loop) relist(ctx context.Context, index uint64) (uint64, error) {
	pairs, meta, err := l.kv.List(l.s.prefix, (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx))
	if err != nil {
		return 0, err
	}
	l.pairsRead.Add(int64(len(pairs)))
	l.s.hub.Publish(l.sequence(l.diff(pairs, index, meta.LastIndex))...)
	return meta.LastIndex, nil
}

// entries turns a listing into the loop's snapshot, skipping keys no Store wrote.
func (l *loop) entries(pairs api.KVPairs) map[string]*entry {
	m := make(map[string]*entry, len(pairs))
	for _, p := range pairs {
		key, err := decodeKey(strings.TrimPrefix(p.Key, l.s.prefix))
		if err != nil {
			continue
		}
		m[key] = &entry{value: p.Value, create: p.CreateIndex, modify: p.ModifyIndex}
	}
	return m
}

// diff replaces the snapshot, read at index prev, with pairs, read at index last, and returns
// the events between the two, sorted by revision.
func (l *loop) diff(pairs api.KVPairs, prev, last uint64) []store.Event {
	next := l.entries(pairs)
	var evs []store.Event
	puts := map[uint64]bool{}
	for key, n := range next {
		puts[n.modify] = true
		old, ok := l.snap[key]
		switch {
		case !ok:
			evs = append(evs, store.Event{Type: store.Put, Key: key, Value: n.value, Created: true, Revision: revOf(n.modify)})
		case old.create != n.create:
			// Deleted and created again between two answers: the delete happened before the
			// new CreateIndex.
			evs = append(evs,
				store.Event{Type: store.Delete, Key: key, PrevValue: old.value, Revision: listRev(n.create - 1)},
				store.Event{Type: store.Put, Key: key, Value: n.value, Created: true, Revision: revOf(n.modify)})
		case old.modify != n.modify:
			evs = append(evs, store.Event{Type: store.Put, Key: key, Value: n.value, PrevValue: old.value, Revision: revOf(n.modify)})
		}
	}
	var gone []string
	for key := range l.snap {
		if _, ok := next[key]; !ok {
			gone = append(gone, key)
		}
	}
	sort.Strings(gone)
	at := deleteIndex(puts, prev, last)
	for i, key := range gone {
		evs = append(evs, store.Event{Type: store.Delete, Key: key, PrevValue: l.snap[key].value, Revision: deleteRev(at, i+1)})
	}
	l.snap = next
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Revision < evs[j].Revision })
	return evs
}

// deleteIndex is the index at which deletes discovered between prev and last are reported:
// the newest index in (prev, last] that is no put's. Each write has its own raft index, so every
// such delete happened at or before it (a watch from any List that missed a delete sees it)
// and before every later put of the batch (a watch that sees a later put has seen it).
func deleteIndex(puts map[uint64]bool, prev, last uint64) uint64 {
	for ix := last; ix > prev; ix-- {
		if !puts[ix] {
			return ix
		}
	}
	return last // only a transaction that wrote and deleted at one index gets here
}

// sequence makes revisions strictly increase past the hub's, as store.Hub requires. Only an
// index that went backwards or more than 65535 deletes in one answer need it; a revision
// moved this way no longer equals the key's stored one.
func (l *loop) sequence(evs []store.Event) []store.Event {
	last := l.s.hub.Revision()
	for i := range evs {
		if evs[i].Revision <= last {
			l.log.Warn("consul watch revision out of sequence; renumbered", "key", evs[i].Key,
				"revision", evs[i].Revision, "after", last)
			evs[i].Revision = last + 1
		}
		last = evs[i].Revision
		l.s.observe(last)
	}
	return evs
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
