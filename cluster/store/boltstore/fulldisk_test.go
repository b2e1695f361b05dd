package boltstore_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/drover-ci/drover/cluster/store"
	"github.com/drover-ci/drover/cluster/store/boltstore"
	"github.com/drover-ci/drover/internal/uptest"
)

// TestFullTmpfs fills a real 4 MiB tmpfs: the write that finds no space fails with
// store.ErrNoSpace and no file path, the store stays usable, deletes succeed, and the space they
// free takes writes again.
func TestFullTmpfs(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=4m"); err != nil {
		uptest.RequireE2E(t, fmt.Sprintf("mounting a small tmpfs (needs CAP_SYS_ADMIN): %v", err))
		return
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	path := filepath.Join(dir, "state.db")
	s, err := boltstore.OpenWithOptions(path, boltstore.Options{CompactMinFree: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	value := []byte(strings.Repeat("x", 64<<10))
	var written []string
	var full error
	for i := 0; i < 1000 && full == nil; i++ {
		key := fmt.Sprintf("core/configmaps/default/c%04d", i)
		if _, err := s.Create(ctx, key, value); err != nil {
			full = err
			break
		}
		written = append(written, key)
	}
	if !errors.Is(full, store.ErrNoSpace) {
		t.Fatalf("filling a 4 MiB tmpfs: %d writes, then %v; want store.ErrNoSpace", len(written), full)
	}
	if strings.Contains(full.Error(), dir) {
		t.Errorf("the error names the file: %v", full)
	}
	if u, err := s.Usage(); err != nil || u.SizeBytes <= 0 {
		t.Errorf("Usage on a full disk = %+v, %v", u, err)
	}
	for _, key := range written[:len(written)/2] {
		if _, err := s.Delete(ctx, key, 0); err != nil {
			t.Fatalf("delete %s on a full disk: %v", key, err)
		}
	}
	if _, err := s.Create(ctx, "core/configmaps/default/after", value); err != nil {
		t.Fatalf("write after deletes freed space: %v", err)
	}
	if _, err := s.Get(ctx, written[len(written)-1]); err != nil {
		t.Fatalf("read on a full disk: %v", err)
	}
	compactOnFullDisk(t, s, path)
}
