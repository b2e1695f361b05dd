package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/drover-ci/drover/cluster/store"
)

// maxBatch bounds how many queued writes one transaction commits.
const maxBatch = 1024

// mutation changes the kv bucket at revision rev and returns the event describing it. An error
// fails this write alone: a mutation must not change the bucket when it returns one.
type mutation func(tx *bolt.Tx, rev int64) (store.Event, error)

// request is one write in the commit queue. ev and err are set before done is closed.
type request struct {
	m    mutation
	ev   store.Event
	err  error
	done chan struct{}
}

// errNoChange rolls back a batch in which no write succeeded (no fsync for nothing).
var errNoChange = errors.New("no write in this batch succeeded")

// write queues m and waits until a batch holding it has committed and published (group commit):
// whoever holds s.commit takes every queued write into one bbolt transaction, so concurrent
// writers share one fsync. Each write gets its own revision and error. Once queued a write is
// committed even if ctx ends.
func (s *Store) write(ctx context.Context, op, key string, m mutation) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, s.wrap(op, key, err)
	}
	r := &request{m: m, done: make(chan struct{})}
	if err := s.run(r); err != nil {
		return 0, s.wrap(op, key, err)
	}
	if r.err != nil {
		err := s.wrap(op, key, r.err)
		s.noteNoSpace(err)
		return 0, err
	}
	return r.ev.Revision, nil
}

// run queues rs and returns once each is done (its ev and err set), or fails when the store is
// closed.
func (s *Store) run(rs ...*request) error {
	s.qmu.Lock()
	if s.closed {
		s.qmu.Unlock()
		return berrors.ErrDatabaseNotOpen
	}
	s.queue = append(s.queue, rs...)
	s.qmu.Unlock()
	s.commit.Lock()
	for _, r := range rs {
		for !isDone(r) {
			s.flush()
		}
	}
	s.commit.Unlock()
	return nil
}

func isDone(r *request) bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// flush commits the oldest queued writes in one transaction, publishes their events in revision
// order and wakes their writers. Callers hold s.commit, so batches publish in revision order;
// the store's other locks are not held while publishing.
func (s *Store) flush() {
	s.qmu.Lock()
	n := min(len(s.queue), maxBatch)
	batch := make([]*request, n)
	copy(batch, s.queue)
	s.queue = append(s.queue[:0], s.queue[n:]...)
	s.qmu.Unlock()
	if n == 0 {
		return
	}
	if err := s.commitBatch(batch); err != nil {
		if n == 1 {
			batch[0].err = err
		} else {
			// The transaction as a whole failed (a full disk, say): commit each write alone,
			// so those that still fit (deletes) succeed and each gets its own error.
			for _, r := range batch {
				if err := s.commitBatch([]*request{r}); err != nil {
					r.err = err
				}
			}
		}
	}
	evs := make([]store.Event, 0, n)
	for _, r := range batch {
		if r.err == nil {
			evs = append(evs, r.ev)
		}
	}
	s.hub.Publish(evs...)
	for _, r := range batch {
		close(r.done)
	}
}

// commitBatch applies batch in order in one transaction that also advances the revision
// counter. A write whose mutation fails gets that error and no revision; the others commit.
// The returned error is the transaction's (then no write of the batch committed).
func (s *Store) commitBatch(batch []*request) error {
	s.dbmu.RLock()
	defer s.dbmu.RUnlock()
	began := time.Now()
	var stx *bolt.Tx
	err := s.db.Update(func(tx *bolt.Tx) error {
		stx = tx
		meta := tx.Bucket(metaBucket)
		rev, err := revisionOf(meta)
		if err != nil {
			return err
		}
		start := rev
		for _, r := range batch {
			r.ev, r.err = r.m(tx, rev+1)
			if r.err == nil {
				rev++
			}
		}
		if rev == start {
			return errNoChange
		}
		var buf [8]byte
		binary.BigEndian.PutUint64(buf[:], uint64(rev))
		return meta.Put(revKey, buf[:])
	})
	if errors.Is(err, errNoChange) {
		return nil
	}
	if err == nil {
		s.commits.Add(1)
		if took := time.Since(began); took >= s.opts.SlowCommit && stx != nil {
			// As etcd's "slow fdatasync" and "apply request took too long": every write of the
			// server waits behind this one, so say where the time went.
			st := stx.Stats()
			s.opts.Logger.Warn("boltstore: slow commit", "writes", len(batch), "took", took.Round(time.Millisecond),
				"spill", st.GetSpillTime().Round(time.Millisecond), "writeAndSync", st.GetWriteTime().Round(time.Millisecond),
				"pagesWritten", st.GetWrite(), "path", s.path)
		}
	}
	return err
}

// current returns the stored record an update or delete expecting revision replaces.
func current(kv *bolt.Bucket, key string, expected int64) (store.KV, error) {
	raw := kv.Get([]byte(key))
	if raw == nil {
		return store.KV{}, store.ErrNotFound
	}
	old, err := decode([]byte(key), raw)
	if err != nil {
		return store.KV{}, err
	}
	if expected != 0 && old.Revision != expected {
		return store.KV{}, fmt.Errorf("at revision %d, expected %d: %w", old.Revision, expected, store.ErrConflict)
	}
	return old, nil
}

// Create stores value under a new key, or fails with store.ErrExists.
func (s *Store) Create(ctx context.Context, key string, value []byte) (int64, error) {
	return s.create(ctx, key, value, 0)
}

// create stores value under a new key with a TTL (ttl ≤ 0: none).
func (s *Store) create(ctx context.Context, key string, value []byte, ttl time.Duration) (int64, error) {
	value = append([]byte{}, value...)
	return s.write(ctx, "create", key, func(tx *bolt.Tx, rev int64) (store.Event, error) {
		kv := tx.Bucket(kvBucket)
		if kv.Get([]byte(key)) != nil {
			return store.Event{}, store.ErrExists
		}
		if err := kv.Put([]byte(key), encode(rev, value)); err != nil {
			return store.Event{}, err
		}
		return store.Event{Type: store.Put, Key: key, Value: value, Created: true, Revision: rev}, setTTL(tx, key, ttl, time.Now())
	})
}

// Update replaces the value if its revision is still expected (0: any).
func (s *Store) Update(ctx context.Context, key string, value []byte, expected int64) (int64, error) {
	value = append([]byte{}, value...)
	return s.write(ctx, "update", key, func(tx *bolt.Tx, rev int64) (store.Event, error) {
		kv := tx.Bucket(kvBucket)
		old, err := current(kv, key, expected)
		if err != nil {
			return store.Event{}, err
		}
		// The TTL first: a mutation that fails must leave the bucket as it was, and the value's
		// Put is the last write that can fail.
		if err := renewTTL(tx, key, time.Now()); err != nil {
			return store.Event{}, err
		}
		if err := kv.Put([]byte(key), encode(rev, value)); err != nil {
			return store.Event{}, err
		}
		return store.Event{Type: store.Put, Key: key, Value: value, PrevValue: old.Value, Revision: rev}, nil
	})
}

// Delete removes key if its revision is still expected (0: any) and returns the revision of
// the deletion.
func (s *Store) Delete(ctx context.Context, key string, expected int64) (int64, error) {
	return s.write(ctx, "delete", key, func(tx *bolt.Tx, rev int64) (store.Event, error) {
		kv := tx.Bucket(kvBucket)
		old, err := current(kv, key, expected)
		if err != nil {
			return store.Event{}, err
		}
		if err := kv.Delete([]byte(key)); err != nil {
			return store.Event{}, err
		}
		return store.Event{Type: store.Delete, Key: key, PrevValue: old.Value, Revision: rev}, clearTTL(tx, key)
	})
}
