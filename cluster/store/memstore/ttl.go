package memstore

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/drover-ci/drover/cluster/store"
)

var _ store.TTLStore = (*Store)(nil)

// expiry is a key's TTL and when it runs out.
type expiry struct {
	deadline time.Time
	ttl      time.Duration
}

// CreateWithTTL creates key so that it expires ttl after its last write (ttl ≤ 0: never).
func (s *Store) CreateWithTTL(ctx context.Context, key string, value []byte, ttl time.Duration) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rev, err := s.create(ctx, key, value)
	if err == nil && ttl > 0 {
		s.ttls[key] = expiry{deadline: time.Now().Add(ttl), ttl: ttl}
		s.armSweep()
	}
	return rev, err
}

// renew restarts key's TTL, if it has one. Callers hold s.mu.
func (s *Store) renew(key string) {
	if e, ok := s.ttls[key]; ok {
		s.ttls[key] = expiry{deadline: time.Now().Add(e.ttl), ttl: e.ttl}
	}
}

// Expire deletes every key whose TTL ran out at now, with a Delete event each, and returns how
// many.
func (s *Store) Expire(ctx context.Context, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, "expire", ""); err != nil {
		return 0, err
	}
	// In deadline order (then by key), as boltstore's expiry index deletes them: the Delete
	// events and their revisions come out in the same order on both stores.
	var due []string
	for key, e := range s.ttls {
		if !e.deadline.After(now) {
			due = append(due, key)
		}
	}
	slices.SortFunc(due, func(a, b string) int {
		if c := s.ttls[a].deadline.Compare(s.ttls[b].deadline); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	n := 0
	for _, key := range due {
		if _, err := s.remove(key); err == nil {
			n++
		}
	}
	return n, nil
}

// armSweep starts the sweep timer while keys have TTLs. Callers hold s.mu.
func (s *Store) armSweep() {
	if s.sweep == nil && !s.closed {
		s.sweep = time.AfterFunc(store.DefaultSweepInterval, func() {
			_, _ = s.Expire(context.Background(), time.Now())
			s.mu.Lock()
			defer s.mu.Unlock()
			s.sweep = nil
			if len(s.ttls) > 0 {
				s.armSweep()
			}
		})
	}
}
