package boltstore

import (
	"context"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/drover-ci/drover/cluster/store"
)

// mutation changes the kv bucket at revision rev and returns the event describing it.
type mutation func(kv *bolt.Bucket, rev int64) (store.Event, error)

// write runs m in one transaction that also advances the revision counter, then publishes the
// event. s.mu is held throughout, so events leave in revision order.
func (s *Store) write(ctx context.Context, op, key string, m mutation) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, s.wrap(op, key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, s.wrap(op, key, berrors.ErrDatabaseNotOpen)
	}
	var ev store.Event
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(metaBucket)
		rev, err := revisionOf(meta)
		if err != nil {
			return err
		}
		rev++
		if ev, err = m(tx.Bucket(kvBucket), rev); err != nil {
			return err
		}
		var buf [8]byte
		binary.BigEndian.PutUint64(buf[:], uint64(rev))
		return meta.Put(revKey, buf[:])
	})
	if err != nil {
		return 0, s.wrap(op, key, err)
	}
	s.hub.Publish(ev)
	return ev.Revision, nil
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
	value = append([]byte{}, value...)
	return s.write(ctx, "create", key, func(kv *bolt.Bucket, rev int64) (store.Event, error) {
		if kv.Get([]byte(key)) != nil {
			return store.Event{}, store.ErrExists
		}
		ev := store.Event{Type: store.Put, Key: key, Value: value, Created: true, Revision: rev}
		return ev, kv.Put([]byte(key), encode(rev, value))
	})
}

// Update replaces the value if its revision is still expected (0: any).
func (s *Store) Update(ctx context.Context, key string, value []byte, expected int64) (int64, error) {
	value = append([]byte{}, value...)
	return s.write(ctx, "update", key, func(kv *bolt.Bucket, rev int64) (store.Event, error) {
		old, err := current(kv, key, expected)
		if err != nil {
			return store.Event{}, err
		}
		ev := store.Event{Type: store.Put, Key: key, Value: value, PrevValue: old.Value, Revision: rev}
		return ev, kv.Put([]byte(key), encode(rev, value))
	})
}

// Delete removes key if its revision is still expected (0: any) and returns the revision of
// the deletion.
func (s *Store) Delete(ctx context.Context, key string, expected int64) (int64, error) {
	return s.write(ctx, "delete", key, func(kv *bolt.Bucket, rev int64) (store.Event, error) {
		old, err := current(kv, key, expected)
		if err != nil {
			return store.Event{}, err
		}
		ev := store.Event{Type: store.Delete, Key: key, PrevValue: old.Value, Revision: rev}
		return ev, kv.Delete([]byte(key))
	})
}
