package memstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/drover-ci/drover/cluster/store"
	"github.com/drover-ci/drover/cluster/store/memstore"
	"github.com/drover-ci/drover/cluster/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Store { return memstore.New() })
}

func TestConformanceSmallHistory(t *testing.T) {
	storetest.RunWithOptions(t, func(*testing.T) store.Store { return memstore.NewWithHistory(64) },
		storetest.Options{CompactAfter: 100})
}

func TestClosedIsUnavailable(t *testing.T) {
	s := memstore.New()
	ctx := context.Background()
	if _, err := s.Create(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	ch, err := s.Watch(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-ch; ok {
		t.Error("watch channel still open after Close")
	}
	if _, err := s.Get(ctx, "k"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Get after Close: err = %v, want ErrUnavailable", err)
	}
	if _, err := s.Watch(ctx, "", 0); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Watch after Close: err = %v, want ErrUnavailable", err)
	}
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(*testing.B) store.Store { return memstore.New() })
}
