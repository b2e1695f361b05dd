package apiserver

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cluster/store"
)

// noSpaceMessage is the answer to a write the full store refused: no file path, and what still
// works.
const noSpaceMessage = "insufficient storage: the API server's store has no space left on its disk; " +
	"writes are refused until space is freed (deletes still work)"

// noSpaceError is the 507 InsufficientStorage answer to store.ErrNoSpace.
func noSpaceError() error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: http.StatusInsufficientStorage,
		Reason: "InsufficientStorage", Message: noSpaceMessage, Details: &metav1.StatusDetails{RetryAfterSeconds: 10}}}
}

// spaceStore notes a full disk: set by a write that fails with store.ErrNoSpace, cleared by
// one that succeeds. /readyz fails while it is set.
type spaceStore struct {
	store.Store
	full atomic.Bool
}

func (s *spaceStore) note(err error) {
	switch {
	case err == nil:
		s.full.Store(false)
	case errors.Is(err, store.ErrNoSpace):
		s.full.Store(true)
	}
}

func (s *spaceStore) Create(ctx context.Context, key string, value []byte) (int64, error) {
	rev, err := s.Store.Create(ctx, key, value)
	s.note(err)
	return rev, err
}

func (s *spaceStore) Update(ctx context.Context, key string, value []byte, expected int64) (int64, error) {
	rev, err := s.Store.Update(ctx, key, value, expected)
	s.note(err)
	return rev, err
}

func (s *spaceStore) Delete(ctx context.Context, key string, expected int64) (int64, error) {
	rev, err := s.Store.Delete(ctx, key, expected)
	s.note(err)
	return rev, err
}

// storeMetrics exports the store's disk usage (when it reports it) and whether it is full.
func storeMetrics(st store.Store, ss *spaceStore) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "drover_store_no_space",
		Help: "1 while the store's last write failed for lack of disk space"}, func() float64 {
		if ss.full.Load() {
			return 1
		}
		return 0
	}))
	if u, ok := st.(store.UsageReporter); ok {
		usage := func(f func(store.Usage) int64) func() float64 {
			return func() float64 {
				v, err := u.Usage()
				if err != nil {
					return -1
				}
				return float64(f(v))
			}
		}
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "drover_store_size_bytes", Help: "bytes the store's file takes on disk"},
				usage(func(v store.Usage) int64 { return v.SizeBytes })),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "drover_store_free_bytes", Help: "bytes free on the store's file system"},
				usage(func(v store.Usage) int64 { return v.FreeBytes })),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "drover_store_free_page_bytes",
				Help: "bytes of free pages inside the store's file: reused by writes, returned to the file system by compaction"},
				usage(func(v store.Usage) int64 { return v.FreePageBytes })))
	}
	return reg
}
