package consulstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/hashicorp/consul/api"

	"github.com/drover-ci/drover/cluster/store"
)

// MaxValueSize is the largest value the store accepts. Consul refuses a KV value above 512 KiB
// and a transaction body above 512 KiB; writes go through /v1/txn (the only write that reports
// the new ModifyIndex), whose JSON carries the value in base64, so a value may use about three
// quarters of that, less room for the key.
const MaxValueSize = 380 << 10

// ErrValueTooLarge is returned for a value above MaxValueSize (or one Consul refuses as too
// large).
var ErrValueTooLarge = errors.New("consulstore: value too large for Consul")

// wrap turns a consul/api error into a store error: connection failures, timeouts and
// Consul's 5xx and 429 answers (no leader, overloaded) become store.ErrUnavailable.
func wrap(ctx context.Context, op, key string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("consulstore: %s %q: %w", op, key, ctx.Err())
	}
	var se api.StatusError
	if errors.As(err, &se) {
		switch {
		case se.Code >= 500 || se.Code == http.StatusTooManyRequests:
			return fmt.Errorf("consulstore: %s %q: %w: %w", op, key, store.ErrUnavailable, err)
		case se.Code == http.StatusRequestEntityTooLarge:
			return fmt.Errorf("consulstore: %s %q: %w: %w", op, key, ErrValueTooLarge, err)
		}
		return fmt.Errorf("consulstore: %s %q: %w", op, key, err)
	}
	// Everything else failed before Consul answered: refused or reset connection, timeout, TLS.
	return fmt.Errorf("consulstore: %s %q: %w: %w", op, key, store.ErrUnavailable, err)
}

// isConflict reports whether err is Consul's answer to a transaction that was rolled back.
func isConflict(err error) bool {
	var se api.StatusError
	return errors.As(err, &se) && se.Code == http.StatusConflict
}

func checkSize(key string, value []byte) error {
	if len(value) > MaxValueSize {
		return fmt.Errorf("consulstore: value of %q is %d bytes, above the limit of %d bytes: %w",
			key, len(value), MaxValueSize, ErrValueTooLarge)
	}
	return nil
}
