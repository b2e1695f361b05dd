//go:build linux

package volume

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func gidMode(t *testing.T, p string) (uint32, os.FileMode) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Gid, fi.Mode()
}

// setOwnership is the kubelet's SetVolumeOwnership: group fsGroup, g+rw (g+r read-only),
// setgid and g+x on directories; OnRootMismatch skips a tree whose root already matches.
func TestSetOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown to another group needs root") // the node agent runs as root
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "f"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub/f", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := setOwnership(dir, 2345, nil, false); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{"sub": os.ModeDir | os.ModeSetgid | 0o770, "sub/f": 0o660} {
		if gid, mode := gidMode(t, filepath.Join(dir, p)); gid != 2345 || mode != want {
			t.Errorf("%s: gid %d mode %v, want 2345 %v", p, gid, mode, want)
		}
	}
	if gid, _ := gidMode(t, filepath.Join(dir, "link")); gid != 2345 {
		t.Errorf("link: gid %d", gid)
	}

	// OnRootMismatch: the root matches, so a file changed since is left alone...
	onRoot := corev1.FSGroupChangeOnRootMismatch
	if err := os.Chmod(filepath.Join(dir, "sub", "f"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := setOwnership(dir, 2345, &onRoot, false); err != nil {
		t.Fatal(err)
	}
	if _, mode := gidMode(t, filepath.Join(dir, "sub", "f")); mode != 0o600 {
		t.Errorf("OnRootMismatch with a matching root changed f to %v", mode)
	}
	// ...and a different fsGroup does change the tree.
	if err := setOwnership(dir, 3456, &onRoot, true); err != nil {
		t.Fatal(err)
	}
	if gid, mode := gidMode(t, filepath.Join(dir, "sub", "f")); gid != 3456 || mode != 0o640 {
		t.Errorf("OnRootMismatch, new group: f gid %d mode %v, want 3456 -rw-r-----", gid, mode)
	}
}
