package store

import (
	"context"
	"time"
)

// TTLStore is implemented by stores that expire keys (Events, as kube-apiserver's --event-ttl
// does with etcd leases). A key created with a TTL is deleted, with a Delete event like any
// other, once ttl has passed since its last write: an Update renews the TTL (as Kubernetes
// re-applies it on each update), a Delete ends it.
type TTLStore interface {
	Store
	// CreateWithTTL is Create of a key that expires ttl after its last write (ttl ≤ 0: never).
	CreateWithTTL(ctx context.Context, key string, value []byte, ttl time.Duration) (int64, error)
	// Expire deletes every key whose TTL ran out at now and returns how many. The store calls
	// it by itself periodically; tests call it with a later now.
	Expire(ctx context.Context, now time.Time) (int, error)
}

// CreateWithTTL creates key with a TTL when s supports it, else (and for ttl ≤ 0) plainly.
func CreateWithTTL(ctx context.Context, s Store, key string, value []byte, ttl time.Duration) (int64, error) {
	if t, ok := s.(TTLStore); ok && ttl > 0 {
		return t.CreateWithTTL(ctx, key, value, ttl)
	}
	return s.Create(ctx, key, value)
}

// DefaultSweepInterval is how often stores look for expired keys.
const DefaultSweepInterval = 10 * time.Second
