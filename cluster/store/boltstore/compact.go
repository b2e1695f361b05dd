package boltstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/drover-ci/drover/cluster/store"
)

// Compaction defaults (Options).
const (
	DefaultCompactInterval = time.Minute
	DefaultCompactRatio    = 0.5
	DefaultCompactMinFree  = 64 << 20
)

// compactTxSize bounds one transaction of the copy.
const compactTxSize = 16 << 20

// Space is what the file holds: its size, the bytes of the pages bbolt uses and the bytes of
// its free pages (reused by later writes, returned to the file system only by Compact).
type Space struct {
	FileBytes, UsedBytes, FreePageBytes int64
}

// Space reports the file's size and its free pages.
func (s *Store) Space() (Space, error) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return Space{}, fmt.Errorf("boltstore: %w", err)
	}
	s.dbmu.RLock()
	defer s.dbmu.RUnlock()
	var hwm int64
	if err := s.db.View(func(tx *bolt.Tx) error { hwm = tx.Size(); return nil }); err != nil {
		return Space{}, s.wrap("space", "", err)
	}
	free := int64(s.db.Stats().FreeAlloc)
	return Space{FileBytes: fi.Size(), UsedBytes: hwm - free, FreePageBytes: free}, nil
}

// Compact copies the live data into a new file beside the store's (bbolt's `compact`) and swaps
// it in, so the space deleted values took goes back to the file system: bbolt itself never
// shrinks its file. Writes wait while it runs, reads only during the swap; watches go on. On a
// disk too full for the copy it fails with store.ErrNoSpace and the store is unchanged (bbolt
// still reuses the free pages for later writes). It returns the file size before and after.
func (s *Store) Compact(ctx context.Context) (before, after int64, err error) {
	s.commit.Lock()
	defer s.commit.Unlock()
	s.qmu.Lock()
	closed := s.closed
	s.qmu.Unlock()
	if closed {
		return 0, 0, s.wrap("compact", s.path, errors.New("store closed"))
	}
	if fi, err := os.Stat(s.path); err == nil {
		before = fi.Size()
	}
	tmp := s.path + ".compact"
	if err := s.copyTo(ctx, tmp); err != nil {
		_ = os.Remove(tmp)
		return before, before, s.wrap("compact", "the store", err)
	}
	if err := s.swap(tmp); err != nil {
		return before, before, err
	}
	s.compactions.Add(1)
	if fi, err := os.Stat(s.path); err == nil {
		after = fi.Size()
	}
	return before, after, nil
}

// copyTo writes a compacted copy of the database to path and syncs it. Callers hold s.commit,
// so no write changes the source meanwhile.
func (s *Store) copyTo(ctx context.Context, path string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_ = os.Remove(path)
	dst, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoSync: true, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return err
	}
	s.dbmu.RLock()
	err = bolt.Compact(dst, s.db, compactTxSize)
	s.dbmu.RUnlock()
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	return err
}

// swap replaces the open database with the compacted file at tmp. Callers hold s.commit.
func (s *Store) swap(tmp string) error {
	s.dbmu.Lock()
	defer s.dbmu.Unlock()
	if err := s.db.Close(); err != nil {
		_ = os.Remove(tmp)
		return s.wrap("compact", s.path, err)
	}
	renameErr := os.Rename(tmp, s.path)
	if renameErr == nil {
		renameErr = syncDir(filepath.Dir(s.path))
	} else {
		_ = os.Remove(tmp)
	}
	db, err := openDB(s.path, s.opts)
	if err != nil {
		// The old or the new file is in place, but cannot be opened again: every call fails
		// until the process restarts (and opens it) rather than risk a second writer.
		return s.wrap("compact: reopen", s.path, errors.Join(renameErr, err))
	}
	s.db = db
	if renameErr != nil {
		return s.wrap("compact: swap", s.path, renameErr)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Compactions returns how many compactions completed since Open.
func (s *Store) Compactions() int64 { return s.compactions.Load() }

// compactor checks the free-page ratio every opts.CompactInterval, and at once after a write
// failed for lack of space, and compacts when enough is free. It ends with ctx.
func (s *Store) compactor(ctx context.Context) {
	t := time.NewTicker(s.opts.CompactInterval)
	defer t.Stop()
	var failed time.Time // last failed compaction: a full disk is retried once an interval
	for {
		full := false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.noSpace:
			full = true
		}
		sp, err := s.Space()
		if err != nil || !s.worthCompacting(sp, full) || (full && time.Since(failed) < s.opts.CompactInterval) {
			continue
		}
		before, after, err := s.Compact(ctx)
		if err != nil {
			failed = time.Now()
			if ctx.Err() == nil {
				s.opts.Logger.Warn("store compaction failed; bbolt reuses the free pages for new writes",
					"err", err, "freePageBytes", sp.FreePageBytes, "fileBytes", sp.FileBytes)
			}
			continue
		}
		s.opts.Logger.Info("store compacted", "fileBytesBefore", before, "fileBytesAfter", after)
	}
}

// worthCompacting: at least opts.CompactMinFree bytes of free pages making up at least
// opts.CompactRatio of the pages bbolt has allocated (used and free: the file up to its
// high-water mark), or any free pages at all once the disk is full. Not of the whole file: with
// the file mapped ahead, bbolt grows it 16 MiB past the high-water mark at a time, and that
// slack is no sign of deleted data.
func (s *Store) worthCompacting(sp Space, full bool) bool {
	if sp.FileBytes <= 0 || sp.FreePageBytes <= 0 {
		return false
	}
	if full {
		return true
	}
	allocated := sp.UsedBytes + sp.FreePageBytes
	return sp.FreePageBytes >= s.opts.CompactMinFree && float64(sp.FreePageBytes) >= s.opts.CompactRatio*float64(allocated)
}

// noteNoSpace wakes the compactor after a write failed with store.ErrNoSpace.
func (s *Store) noteNoSpace(err error) {
	if errors.Is(err, store.ErrNoSpace) {
		select {
		case s.noSpace <- struct{}{}:
		default:
		}
	}
}
