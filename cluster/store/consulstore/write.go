package consulstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/consul/api"

	"github.com/drover-ci/drover/cluster/store"
)

// maxRetries bounds the read-then-write loops of unconditional updates and deletes.
const maxRetries = 100

// errRolledBack is what txn returns when a check-and-set did not hold.
var errRolledBack = errors.New("consulstore: transaction rolled back")

// Create stores value under a new key (check-and-set with index 0).
func (s *Store) Create(ctx context.Context, key string, value []byte) (int64, error) {
	if err := checkSize(key, value); err != nil {
		return 0, err
	}
	rev, err := s.cas(ctx, key, value, 0)
	if errors.Is(err, errRolledBack) {
		return 0, fmt.Errorf("consulstore: create %q: %w", key, store.ErrExists)
	}
	if err != nil {
		return 0, wrap(ctx, "create", key, err)
	}
	return rev, nil
}

// Update replaces the value if the key's revision is expected; with expected 0 it reads the
// current revision and retries until its check-and-set holds.
func (s *Store) Update(ctx context.Context, key string, value []byte, expected int64) (int64, error) {
	if err := checkSize(key, value); err != nil {
		return 0, err
	}
	if expected != 0 {
		index, ok := indexOf(expected)
		if !ok || index == 0 {
			return 0, s.mismatch(ctx, "update", key)
		}
		rev, err := s.cas(ctx, key, value, index)
		if errors.Is(err, errRolledBack) {
			return 0, s.mismatch(ctx, "update", key)
		}
		if err != nil {
			return 0, wrap(ctx, "update", key, err)
		}
		return rev, nil
	}
	for range maxRetries {
		cur, err := s.Get(ctx, key)
		if err != nil {
			return 0, err
		}
		index, _ := indexOf(cur.Revision)
		rev, err := s.cas(ctx, key, value, index)
		if errors.Is(err, errRolledBack) {
			continue
		}
		if err != nil {
			return 0, wrap(ctx, "update", key, err)
		}
		return rev, nil
	}
	return 0, fmt.Errorf("consulstore: update %q: %d concurrent writes in a row: %w", key, maxRetries, store.ErrConflict)
}

// Delete removes key if its revision is expected; with expected 0 it reads the current
// revision and retries. Consul does not report the index of a delete: it returns 0.
func (s *Store) Delete(ctx context.Context, key string, expected int64) (int64, error) {
	if expected != 0 {
		index, ok := indexOf(expected)
		if !ok || index == 0 {
			return 0, s.mismatch(ctx, "delete", key)
		}
		err := s.deleteAt(ctx, key, index)
		if errors.Is(err, errRolledBack) {
			return 0, s.mismatch(ctx, "delete", key)
		}
		return 0, err
	}
	for range maxRetries {
		cur, err := s.Get(ctx, key)
		if err != nil {
			return 0, err
		}
		index, _ := indexOf(cur.Revision)
		err = s.deleteAt(ctx, key, index)
		if !errors.Is(err, errRolledBack) {
			return 0, err
		}
	}
	return 0, fmt.Errorf("consulstore: delete %q: %d concurrent writes in a row: %w", key, maxRetries, store.ErrConflict)
}

// mismatch tells, after a failed check-and-set, whether the key is gone or was changed.
func (s *Store) mismatch(ctx context.Context, op, key string) error {
	_, err := s.Get(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("consulstore: %s %q: %w", op, key, store.ErrNotFound)
	case err != nil:
		return err
	}
	return fmt.Errorf("consulstore: %s %q: %w", op, key, store.ErrConflict)
}

// cas sets key if its ModifyIndex is index (0: if absent) and returns the new revision. It
// goes through /v1/txn because a plain KV put does not report the new ModifyIndex.
//
// Consul skips a write whose value and flags equal the stored ones, keeping the old
// ModifyIndex; the store promises a new revision for every write. So Flags carries the
// ModifyIndex being replaced, which always differs from the stored entry's own Flags (the
// index before that).
func (s *Store) cas(ctx context.Context, key string, value []byte, index uint64) (int64, error) {
	return s.casWith(ctx, key, value, index)
}

// casWith is cas with more operations in its transaction.
func (s *Store) casWith(ctx context.Context, key string, value []byte, index uint64, more ...*api.TxnOp) (int64, error) {
	enc := encodeKey(key)
	ops := append(api.TxnOps{{KV: &api.KVTxnOp{Verb: api.KVCAS, Key: s.prefix + enc, Value: value, Index: index, Flags: index}}, s.logOp('P', enc, value)}, more...)
	var out api.TxnResponse
	if err := s.txn(ctx, ops, &out); err != nil {
		return 0, err
	}
	if len(out.Results) != len(ops) || out.Results[0].KV == nil {
		return 0, fmt.Errorf("consulstore: set %q: transaction returned %d results, want %d", key, len(out.Results), len(ops))
	}
	return s.observe(revOf(out.Results[0].KV.ModifyIndex)), nil
}

// deleteAt deletes key if its ModifyIndex is index. Consul's delete-cas succeeds on a missing
// key, so the transaction checks the index first.
func (s *Store) deleteAt(ctx context.Context, key string, index uint64) error {
	enc := encodeKey(key)
	k := s.prefix + enc
	ops := api.TxnOps{
		{KV: &api.KVTxnOp{Verb: api.KVCheckIndex, Key: k, Index: index}},
		{KV: &api.KVTxnOp{Verb: api.KVDelete, Key: k}},
		s.logOp('D', enc, nil),
	}
	if err := s.txn(ctx, ops, nil); err != nil {
		if errors.Is(err, errRolledBack) {
			return err
		}
		return wrap(ctx, "delete", key, err)
	}
	return nil
}

// txn runs one transaction; errRolledBack when one of its checks failed.
func (s *Store) txn(ctx context.Context, ops api.TxnOps, out *api.TxnResponse) error {
	_, err := s.client.Raw().Write("/v1/txn", ops, out, (&api.WriteOptions{}).WithContext(ctx))
	if isConflict(err) {
		return errRolledBack
	}
	return err
}
