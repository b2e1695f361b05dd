package boltstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/drover-ci/drover/cluster/store"
	"github.com/drover-ci/drover/cluster/store/boltstore"
)

// TestTTLSurvivesReopenAndSweeps: a TTL is kept in the file, and the store's own sweeper
// deletes the key once it ran out, with a Delete event to watchers.
func TestTTLSurvivesReopenAndSweeps(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path, boltstore.Options{SweepInterval: time.Hour})
	if _, err := s.CreateWithTTL(ctx, "core/events/default/e1", []byte("e1"), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path, boltstore.Options{SweepInterval: 10 * time.Millisecond})
	defer s.Close()
	ch, err := s.Watch(ctx, "core/events/", 0)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-ch:
		if ev.Type != store.Delete || ev.Key != "core/events/default/e1" || string(ev.PrevValue) != "e1" {
			t.Errorf("event = %+v, want the expiry's delete", ev)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the sweeper did not expire the key")
	}
	if _, err := s.Get(ctx, "core/events/default/e1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after expiry: %v, want ErrNotFound", err)
	}
}
