//go:build linux

package volume

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWriteAtomicRemovesDroppedKeys(t *testing.T) {
	dir := t.TempDir()
	steps := []struct {
		files   map[string]file
		changed bool
		visible []string
	}{
		{map[string]file{"a": {[]byte("1"), 0o644}, "d/b": {[]byte("2"), 0o644}}, true, []string{"a", "d"}},
		{map[string]file{"a": {[]byte("1"), 0o644}, "d/b": {[]byte("2"), 0o644}}, false, []string{"a", "d"}},
		{map[string]file{"a": {[]byte("1"), 0o644}}, true, []string{"a"}},
		{map[string]file{"a": {[]byte("1"), 0o600}}, true, []string{"a"}},
		{map[string]file{}, true, nil},
	}
	for i, s := range steps {
		changed, err := writeAtomic(dir, s.files)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if changed != s.changed {
			t.Errorf("step %d: changed = %v, want %v", i, changed, s.changed)
		}
		if diff := cmp.Diff(s.visible, visible(t, dir)); diff != "" {
			t.Errorf("step %d: files (-want +got):\n%s", i, diff)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != len(s.visible)+2 { // + ..data and one timestamped dir
			t.Errorf("step %d: %d entries in %s, want %d (old data left?)", i, len(entries), dir, len(s.visible)+2)
		}
	}
}

func TestWriteAtomicRefusesEscapes(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"../x", "/etc/x", "a/../../x", "..data", "a//b", ""} {
		if _, err := writeAtomic(dir, map[string]file{p: {[]byte("x"), 0o644}}); err == nil {
			t.Errorf("path %q accepted", p)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "x")); !os.IsNotExist(err) {
		t.Errorf("a file was written outside the volume")
	}
}

func TestTmpfsGrows(t *testing.T) {
	needTmpfs(t)
	dir := t.TempDir()
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	if err := ensureTmpfs(dir, 0o755, 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := ensureTmpfs(dir, 0o755, 8<<20); err != nil {
		t.Fatal(err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if size := int64(st.Blocks) * st.Bsize; size < 8<<20 {
		t.Errorf("tmpfs size = %d, want ≥ 8 MiB", size)
	}
	if points, _ := mountPointsUnder(dir); len(points) != 1 {
		t.Errorf("mounts = %v, want one", points)
	}
}

func TestUnescapeMountPath(t *testing.T) {
	for in, want := range map[string]string{`/a\040b`: "/a b", `/x\134y`: `/x\y`, `/plain`: "/plain", `/bad\9`: `/bad\9`} {
		if got := unescapeMountPath(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}
