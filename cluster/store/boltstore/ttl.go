package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/drover-ci/drover/cluster/store"
)

// Keys with a TTL have an entry in ttlBucket (key → deadline and TTL, unix nanoseconds) and one
// in expiryBucket (deadline ++ key → empty), which the sweeper scans in deadline order. Both are
// written in the transaction that writes the key.
var (
	ttlBucket    = []byte("ttl")
	expiryBucket = []byte("expiry")
)

var _ store.TTLStore = (*Store)(nil)

// errRenewed skips the expiry of a key written again since the sweep found it.
var errRenewed = errors.New("ttl renewed or key gone")

// CreateWithTTL creates key so that it expires ttl after its last write (ttl ≤ 0: never).
func (s *Store) CreateWithTTL(ctx context.Context, key string, value []byte, ttl time.Duration) (int64, error) {
	return s.create(ctx, key, value, ttl)
}

func expiryKey(deadline int64, key string) []byte {
	k := make([]byte, 8+len(key))
	binary.BigEndian.PutUint64(k, uint64(deadline))
	copy(k[8:], key)
	return k
}

// setTTL gives key a TTL of ttl from now (ttl ≤ 0: none), replacing any it had.
func setTTL(tx *bolt.Tx, key string, ttl time.Duration, now time.Time) error {
	if err := clearTTL(tx, key); err != nil || ttl <= 0 {
		return err
	}
	deadline := now.Add(ttl).UnixNano()
	var v [16]byte
	binary.BigEndian.PutUint64(v[:8], uint64(deadline))
	binary.BigEndian.PutUint64(v[8:], uint64(ttl))
	if err := tx.Bucket(ttlBucket).Put([]byte(key), v[:]); err != nil {
		return err
	}
	return tx.Bucket(expiryBucket).Put(expiryKey(deadline, key), []byte{})
}

// ttlOf returns key's deadline and TTL; ok false when it has none.
func ttlOf(tx *bolt.Tx, key string) (deadline int64, ttl time.Duration, ok bool) {
	v := tx.Bucket(ttlBucket).Get([]byte(key))
	if len(v) != 16 {
		return 0, 0, false
	}
	return int64(binary.BigEndian.Uint64(v[:8])), time.Duration(binary.BigEndian.Uint64(v[8:])), true
}

// clearTTL removes key's TTL, if any.
func clearTTL(tx *bolt.Tx, key string) error {
	deadline, _, ok := ttlOf(tx, key)
	if !ok {
		return nil
	}
	if err := tx.Bucket(expiryBucket).Delete(expiryKey(deadline, key)); err != nil {
		return err
	}
	return tx.Bucket(ttlBucket).Delete([]byte(key))
}

// renewTTL restarts key's TTL, if it has one, from now.
func renewTTL(tx *bolt.Tx, key string, now time.Time) error {
	if _, ttl, ok := ttlOf(tx, key); ok {
		return setTTL(tx, key, ttl, now)
	}
	return nil
}

// Expire deletes every key whose TTL ran out at now, each with a Delete event, and returns how
// many it deleted.
func (s *Store) Expire(ctx context.Context, now time.Time) (int, error) {
	var due []string
	s.dbmu.RLock()
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(expiryBucket).Cursor()
		for k, _ := c.First(); k != nil && len(k) >= 8 && int64(binary.BigEndian.Uint64(k[:8])) <= now.UnixNano(); k, _ = c.Next() {
			due = append(due, string(k[8:]))
		}
		return nil
	})
	s.dbmu.RUnlock()
	if err != nil {
		return 0, s.wrap("expire", "", err)
	}
	reqs := make([]*request, len(due))
	for i, key := range due {
		reqs[i] = &request{done: make(chan struct{}), m: func(tx *bolt.Tx, rev int64) (store.Event, error) {
			deadline, _, ok := ttlOf(tx, key)
			kv := tx.Bucket(kvBucket)
			raw := kv.Get([]byte(key))
			if !ok || deadline > now.UnixNano() || raw == nil {
				return store.Event{}, errRenewed
			}
			old, err := decode([]byte(key), raw)
			if err != nil {
				return store.Event{}, err
			}
			if err := kv.Delete([]byte(key)); err != nil {
				return store.Event{}, err
			}
			return store.Event{Type: store.Delete, Key: key, PrevValue: old.Value, Revision: rev}, clearTTL(tx, key)
		}}
	}
	if err := s.run(reqs...); err != nil {
		return 0, s.wrap("expire", "", err)
	}
	n := 0
	var errs []error
	for i, r := range reqs {
		switch {
		case r.err == nil:
			n++
		case !errors.Is(r.err, errRenewed):
			errs = append(errs, s.wrap("expire", due[i], r.err))
		}
	}
	return n, errors.Join(errs...)
}

// sweeper expires keys every opts.SweepInterval until ctx ends.
func (s *Store) sweeper(ctx context.Context) {
	t := time.NewTicker(s.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.Expire(ctx, time.Now()); err != nil && ctx.Err() == nil {
			s.opts.Logger.Warn("expiring keys failed", "err", err)
		}
	}
}
