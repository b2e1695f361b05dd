package volume

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// file is one file of a secret / configMap / downward API / projected volume.
type file struct {
	data []byte
	mode os.FileMode
}

const dataLink = "..data"

// writeAtomic makes dir hold exactly files (relative paths), as kubelet's AtomicWriter
// does: the files are written into a new timestamped directory "..<time>.<random>", the
// "..data" symlink is switched to it with a rename (atomic), and every top-level path is a
// symlink through "..data" ("key" -> "..data/key"). Containers that mount dir therefore see
// either the old or the new set, never a mix. Nothing is written when dir already holds
// files. It reports whether it wrote.
func writeAtomic(dir string, files map[string]file) (bool, error) {
	for p := range files {
		if err := checkPayloadPath(p); err != nil {
			return false, err
		}
	}
	old, err := os.Readlink(filepath.Join(dir, dataLink))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	if old != "" && sameFiles(filepath.Join(dir, old), files) {
		return false, nil
	}
	ts, err := writeTimestamped(dir, files)
	if err != nil {
		return false, err
	}
	tmpLink := filepath.Join(dir, "..data_tmp")
	if err := removeEntry(tmpLink); err != nil {
		return false, err
	}
	if err := os.Symlink(ts, tmpLink); err != nil {
		return false, err
	}
	if err := os.Rename(tmpLink, filepath.Join(dir, dataLink)); err != nil {
		return false, err
	}
	if err := linkTopLevel(dir, files); err != nil {
		return false, err
	}
	if old != "" && old != ts && strings.HasPrefix(old, "..") && !strings.Contains(old, "/") {
		if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
			return false, err
		}
	}
	return true, nil
}

// checkPayloadPath refuses absolute paths, ".." components and paths starting with "..".
func checkPayloadPath(p string) error {
	if p == "" || filepath.IsAbs(p) || strings.HasPrefix(p, "..") {
		return fmt.Errorf("invalid path %q: must be relative and may not start with '..'", p)
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".." || c == "" || c == "." {
			return fmt.Errorf("invalid path %q: must not contain '..' or empty components", p)
		}
	}
	return nil
}

// writeTimestamped writes files into a new "..<time>.<random>" directory of dir and returns
// its name.
func writeTimestamped(dir string, files map[string]file) (string, error) {
	ts, err := os.MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return "", err
	}
	if err := os.Chmod(ts, 0o755); err != nil {
		return "", err
	}
	for p, f := range files {
		path := filepath.Join(ts, p)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(path, f.data, f.mode); err != nil {
			return "", err
		}
		if err := os.Chmod(path, f.mode); err != nil { // despite the umask
			return "", err
		}
	}
	return filepath.Base(ts), nil
}

// sameFiles reports whether the directory tree at dir holds exactly files (contents and
// permission bits).
func sameFiles(dir string, files map[string]file) bool {
	errDiffer := errors.New("differ")
	seen := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		f, ok := files[rel]
		info, ierr := d.Info()
		if !ok || ierr != nil || !d.Type().IsRegular() || info.Mode().Perm() != f.mode.Perm() {
			return errDiffer
		}
		data, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(data, f.data) {
			return errDiffer
		}
		seen++
		return nil
	})
	return err == nil && seen == len(files)
}

// linkTopLevel makes "name" -> "..data/name" for every top-level component of files and
// removes the user-visible entries that are no longer part of the payload.
func linkTopLevel(dir string, files map[string]file) error {
	top := map[string]bool{}
	for p := range files {
		top[strings.SplitN(p, "/", 2)[0]] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "..") && !top[e.Name()] {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	for name := range top {
		path, target := filepath.Join(dir, name), filepath.Join(dataLink, name)
		if cur, err := os.Readlink(path); err == nil && cur == target {
			continue
		}
		if err := os.RemoveAll(path); err != nil {
			return err
		}
		if err := os.Symlink(target, path); err != nil {
			return err
		}
	}
	return nil
}

// removeEntry removes a file, symlink or empty directory; a missing one is no error.
func removeEntry(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
