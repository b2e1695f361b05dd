//go:build linux

package volume

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func hostPathPod(path string, t corev1.HostPathType) *corev1.Pod {
	return newPod("u1", corev1.Volume{Name: "h", VolumeSource: corev1.VolumeSource{
		HostPath: &corev1.HostPathVolumeSource{Path: path, Type: &t}}})
}

func TestHostPathCreates(t *testing.T) {
	base := t.TempDir()
	for _, tc := range []struct {
		typ   corev1.HostPathType
		isDir bool
		mode  os.FileMode
	}{
		{corev1.HostPathUnset, true, 0o755},
		{corev1.HostPathDirectoryOrCreate, true, 0o755},
		{corev1.HostPathFileOrCreate, false, 0o644},
	} {
		m, _ := newManager(t)
		path := filepath.Join(base, "new-"+string(tc.typ))
		srcs := mustSetup(t, m, hostPathPod(path, tc.typ))
		if srcs["h"] != (Source{HostPath: path}) {
			t.Errorf("%q: source = %+v", tc.typ, srcs["h"])
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatalf("%q: %v", tc.typ, err)
		}
		if fi.IsDir() != tc.isDir || fi.Mode().Perm() != tc.mode {
			t.Errorf("%q: made dir=%v mode=%o, want dir=%v mode=%o", tc.typ, fi.IsDir(), fi.Mode().Perm(), tc.isDir, tc.mode)
		}
	}
}

func TestHostPathFileOrCreateNeedsParent(t *testing.T) {
	m, _ := newManager(t)
	path := filepath.Join(t.TempDir(), "missing", "f")
	setupErr(t, m, hostPathPod(path, corev1.HostPathFileOrCreate))
	if _, err := os.Stat(filepath.Dir(path)); !os.IsNotExist(err) {
		t.Errorf("parent directory was created (%v)", err)
	}
}

func TestHostPathTypeChecks(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "d")
	file := filepath.Join(base, "f")
	sock := filepath.Join(base, "s")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ok := []struct {
		path string
		typ  corev1.HostPathType
	}{
		{dir, corev1.HostPathDirectory}, {dir, corev1.HostPathDirectoryOrCreate}, {dir, corev1.HostPathUnset},
		{file, corev1.HostPathFile}, {file, corev1.HostPathFileOrCreate}, {file, corev1.HostPathUnset},
		{sock, corev1.HostPathSocket}, {"/dev/null", corev1.HostPathCharDev},
	}
	for _, tc := range ok {
		m, _ := newManager(t)
		mustSetup(t, m, hostPathPod(tc.path, tc.typ))
	}
	bad := []struct {
		path string
		typ  corev1.HostPathType
		want string
	}{
		{file, corev1.HostPathDirectory, file + " is not a directory"},
		{file, corev1.HostPathDirectoryOrCreate, file + " is not a directory"},
		{filepath.Join(base, "nope"), corev1.HostPathDirectory, "nope is not a directory"},
		{dir, corev1.HostPathFile, dir + " is not a file"},
		{dir, corev1.HostPathFileOrCreate, dir + " is not a file"},
		{filepath.Join(base, "nope"), corev1.HostPathFile, "nope is not a file"},
		{file, corev1.HostPathSocket, file + " is not a socket file"},
		{file, corev1.HostPathCharDev, file + " is not a character device"},
		{"/dev/null", corev1.HostPathBlockDev, "/dev/null is not a block device"},
		{dir, "Weird", "Weird is an invalid volume type"},
	}
	for _, tc := range bad {
		m, _ := newManager(t)
		got := setupErr(t, m, hostPathPod(tc.path, tc.typ))
		wantContains(t, got, tc.want)
		if tc.typ != "Weird" {
			wantContains(t, got, "hostPath type check failed: ")
		}
	}
	if got := readFile(t, file); got != "keep" {
		t.Errorf("file content changed to %q", got)
	}
	if _, err := os.Stat(filepath.Join(base, "nope")); !os.IsNotExist(err) {
		t.Errorf("a checked-only path was created")
	}
}
