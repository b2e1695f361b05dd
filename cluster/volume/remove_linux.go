package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// removeAllOneDevice removes dir and everything below it without following symlinks (they
// are removed, not their targets) and without descending into another file system: a
// directory still mounted below dir is an error, so nothing outside the pod is ever deleted.
func removeAllOneDevice(dir string) error {
	var st syscall.Stat_t
	if err := syscall.Lstat(dir, &st); err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return nil
		}
		return fmt.Errorf("stat %s: %w", dir, err)
	}
	return removeTree(dir, uint64(st.Dev))
}

func removeTree(path string, dev uint64) error {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return nil
		}
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return removeEntry(path)
	}
	if uint64(st.Dev) != dev {
		return fmt.Errorf("refusing to remove %s: another file system is mounted there", path)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := removeTree(filepath.Join(path, e.Name()), dev); err != nil {
			return err
		}
	}
	return removeEntry(path)
}

func isNotEmpty(err error) bool {
	return errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST)
}
