package apiserver

import (
	"context"
	"time"

	"github.com/drover-ci/drover/cluster/registry"
	"github.com/drover-ci/drover/cluster/store"
)

// DefaultEventTTL is kube-apiserver's --event-ttl default.
const DefaultEventTTL = time.Hour

// eventTTL resolves Config.EventTTL: 0 is the default, negative none (0).
func eventTTL(configured time.Duration) time.Duration {
	switch {
	case configured == 0:
		return DefaultEventTTL
	case configured < 0:
		return 0
	}
	return configured
}

// ttlOf is the TTL objects of res are created with: Events (v1 and events.k8s.io) expire, as
// in Kubernetes; everything else lives until deleted.
func (s *Server) ttlOf(res *registry.Resource) time.Duration {
	if res.Resource == "events" && (res.Group == "" || res.Group == "events.k8s.io") {
		return s.eventTTL
	}
	return 0
}

// CreateWithTTL passes a TTL to the store when it supports them (store.CreateWithTTL).
func (s *spaceStore) CreateWithTTL(ctx context.Context, key string, value []byte, ttl time.Duration) (int64, error) {
	rev, err := store.CreateWithTTL(ctx, s.Store, key, value, ttl)
	s.note(err)
	return rev, err
}

// Expire is the store's, when it has TTLs.
func (s *spaceStore) Expire(ctx context.Context, now time.Time) (int, error) {
	if t, ok := s.Store.(store.TTLStore); ok {
		return t.Expire(ctx, now)
	}
	return 0, nil
}
