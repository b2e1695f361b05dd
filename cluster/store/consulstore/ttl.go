package consulstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/drover-ci/drover/cluster/store"
)

// TTLs: a key created with a TTL gets an expiry entry in the same transaction,
// PREFIX/%ttl/<deadline minute>/<deadline>-<random id>, holding the key's Consul name, its TTL,
// and the ModifyIndex it expires at and its CreateIndex (0: the entry's own, i.e. the create's). Store keys cannot be
// named so ('%' is escaped in keys). Every Store sweeps: it lists the minutes that are due, and
// deletes each due key whose ModifyIndex is still the recorded one, with its entry and a change
// log entry, in one transaction (a concurrent sweep's or write's transaction then fails and is
// skipped). A key written since gets a new entry a TTL from the sweep: in Consul a TTL runs from
// the last write the sweep saw, so a key lives between one and two TTLs after its last update.
const ttlDir = "%ttl/"

var _ store.TTLStore = (*Store)(nil)

func ttlMinute(deadline time.Time) string { return strconv.FormatInt(deadline.Unix()/60, 10) }

// ttlOp is the expiry entry of enc, due at deadline, for the key's write at index, created at
// create (0: this transaction).
func (s *Store) ttlOp(enc string, ttl time.Duration, deadline time.Time, index, create uint64) *api.TxnOp {
	v := binary.AppendUvarint(nil, index)
	v = binary.AppendUvarint(v, create)
	v = binary.AppendUvarint(v, uint64(ttl))
	v = append(v, enc...)
	name := fmt.Sprintf("%s%s%s/%016x-%s", s.prefix, ttlDir, ttlMinute(deadline), deadline.UnixNano(), randomID())
	return &api.TxnOp{KV: &api.KVTxnOp{Verb: api.KVSet, Key: name, Value: v}}
}

// CreateWithTTL creates key so that it expires ttl after its last write (ttl ≤ 0: never).
func (s *Store) CreateWithTTL(ctx context.Context, key string, value []byte, ttl time.Duration) (int64, error) {
	if ttl <= 0 {
		return s.Create(ctx, key, value)
	}
	if err := checkSize(key, value); err != nil {
		return 0, err
	}
	enc := encodeKey(key)
	rev, err := s.casWith(ctx, key, value, 0, s.ttlOp(enc, ttl, time.Now().Add(ttl), 0, 0))
	if errors.Is(err, errRolledBack) {
		return 0, fmt.Errorf("consulstore: create %q: %w", key, store.ErrExists)
	}
	if err != nil {
		return 0, wrap(ctx, "create", key, err)
	}
	return rev, nil
}

// Expire deletes every key whose TTL ran out at now, with a Delete event each, and returns how
// many it deleted; keys written since their entry get a new one.
func (s *Store) Expire(ctx context.Context, now time.Time) (int, error) {
	minutes, _, err := s.kv.Keys(s.prefix+ttlDir, "/", (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return 0, wrap(ctx, "expire", "", err)
	}
	n := 0
	var errs []error
	for _, m := range minutes {
		minute, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(m, s.prefix+ttlDir), "/"), 10, 64)
		if err != nil || minute > now.Unix()/60 {
			continue
		}
		entries, _, err := s.kv.List(m, (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx))
		if err != nil {
			return n, wrap(ctx, "expire", "", err)
		}
		for _, e := range entries {
			done, err := s.expireEntry(ctx, e, now)
			if err != nil {
				errs = append(errs, err)
			}
			if done {
				n++
			}
		}
	}
	return n, errors.Join(errs...)
}

// expireEntry handles one expiry entry: not yet due, expired (true), renewed or stale.
func (s *Store) expireEntry(ctx context.Context, e *api.KVPair, now time.Time) (bool, error) {
	name := e.Key[strings.LastIndexByte(e.Key, '/')+1:]
	hexDeadline, _, _ := strings.Cut(name, "-")
	deadline, err := strconv.ParseUint(hexDeadline, 16, 64)
	if err != nil || int64(deadline) > now.UnixNano() {
		return false, nil
	}
	var fields [3]uint64
	rest := e.Value
	for i := range fields {
		v, w := binary.Uvarint(rest)
		if w <= 0 {
			_, err := s.kv.Delete(e.Key, (&api.WriteOptions{}).WithContext(ctx))
			return false, err
		}
		fields[i], rest = v, rest[w:]
	}
	index, create, ttl := fields[0], fields[1], fields[2]
	if index == 0 {
		index = e.CreateIndex
	}
	if create == 0 {
		create = e.CreateIndex
	}
	enc := string(rest)
	cur, _, err := s.kv.Get(s.prefix+enc, (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx))
	if err != nil {
		return false, wrap(ctx, "expire", enc, err)
	}
	drop := &api.TxnOp{KV: &api.KVTxnOp{Verb: api.KVDeleteCAS, Key: e.Key, Index: e.ModifyIndex}}
	var ops api.TxnOps
	expired := false
	switch {
	case cur == nil || cur.CreateIndex != create:
		ops = api.TxnOps{drop} // deleted meanwhile (and perhaps created again, without this TTL)
	case cur.ModifyIndex != index:
		ops = api.TxnOps{drop, {KV: &api.KVTxnOp{Verb: api.KVCheckIndex, Key: s.prefix + enc, Index: cur.ModifyIndex}},
			s.ttlOp(enc, time.Duration(ttl), now.Add(time.Duration(ttl)), cur.ModifyIndex, create)}
	default:
		expired = true
		ops = api.TxnOps{drop, {KV: &api.KVTxnOp{Verb: api.KVCheckIndex, Key: s.prefix + enc, Index: index}},
			{KV: &api.KVTxnOp{Verb: api.KVDelete, Key: s.prefix + enc}}, s.logOp('D', enc, nil)}
	}
	if err := s.txn(ctx, ops, nil); err != nil {
		if errors.Is(err, errRolledBack) {
			return false, nil // another sweep or a write got there first
		}
		return false, wrap(ctx, "expire", enc, err)
	}
	return expired, nil
}

// sweep expires keys every store.DefaultSweepInterval until ctx ends.
func (s *Store) sweep(ctx context.Context) {
	t := time.NewTicker(store.DefaultSweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.Expire(ctx, time.Now()); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn("consulstore: expiring keys failed", "err", err)
		}
	}
}
