package boltstore

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/drover-ci/drover/cluster/store"
)

// TestNoSpaceError: a write that fails for lack of disk space (bbolt wraps ENOSPC with %w when
// writing, with %s when growing the file) is store.ErrNoSpace, and the error names no path.
func TestNoSpaceError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, cause := range []error{
		fmt.Errorf("write %s: %w", path, syscall.ENOSPC),
		fmt.Errorf("file resize error: %s", fmt.Errorf("truncate %s: %w", path, syscall.ENOSPC)),
	} {
		err := s.wrap("create", "core/pods/default/p", cause)
		if !errors.Is(err, store.ErrNoSpace) || strings.Contains(err.Error(), path) {
			t.Errorf("wrap(%v) = %v, want store.ErrNoSpace without the path", cause, err)
		}
	}
	if u, err := s.Usage(); err != nil || u.SizeBytes <= 0 || u.FreeBytes <= 0 {
		t.Errorf("Usage = %+v, %v", u, err)
	}
}
