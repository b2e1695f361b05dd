//go:build linux

package volume

import (
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestEmptyDirSharedAndKept(t *testing.T) {
	m, _ := newManager(t)
	pod := newPod("u1", corev1.Volume{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	srcs := mustSetup(t, m, pod)
	dir := srcs["work"].HostPath
	if want := filepath.Join(m.Root, "u1", "volumes", "empty-dir", "work"); dir != want {
		t.Fatalf("HostPath = %q, want %q", dir, want)
	}
	if got := modeOf(t, dir); got != 0o777 {
		t.Errorf("mode = %o, want 777", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A later sync (e.g. after a container restart) keeps the contents and the mode a
	// container gave the directory.
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	srcs = mustSetup(t, m, pod)
	if got := readFile(t, filepath.Join(srcs["work"].HostPath, "f")); got != "kept" {
		t.Errorf("content after second Setup = %q", got)
	}
	if got := modeOf(t, dir); got != 0o700 {
		t.Errorf("mode after second Setup = %o, want 700 kept", got)
	}
	if fs := fsType(t, dir); fs == "tmpfs" && fsType(t, m.Root) != "tmpfs" {
		t.Errorf("disk emptyDir is on tmpfs")
	}
}

func TestEmptyDirMemoryIsSizedTmpfs(t *testing.T) {
	needTmpfs(t)
	m, _ := newManager(t)
	limit := resource.MustParse("1Mi")
	pod := newPod("u1", corev1.Volume{Name: "cache", VolumeSource: corev1.VolumeSource{
		EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: &limit}}})
	dir := mustSetup(t, m, pod)["cache"].HostPath
	if got := fsType(t, dir); got != "tmpfs" {
		t.Fatalf("file system = %q, want tmpfs", got)
	}
	if got := modeOf(t, dir); got != 0o777 {
		t.Errorf("mode = %o, want 777", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "big"), make([]byte, 2<<20), 0o600); err == nil {
		t.Errorf("writing 2 MiB into a 1 MiB tmpfs succeeded")
	}
	if err := os.Remove(filepath.Join(dir, "big")); err != nil {
		t.Fatal(err)
	}
	// Idempotent: a second Setup does not stack another tmpfs.
	if err := os.WriteFile(filepath.Join(dir, "small"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustSetup(t, m, pod)
	if got := readFile(t, filepath.Join(dir, "small")); got != "x" {
		t.Errorf("content after second Setup = %q", got)
	}
	points, err := mountPointsUnder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(points) != 1 {
		t.Errorf("mounts at %s = %v, want exactly one", dir, points)
	}
}

func TestEmptyDirUnsupportedMedium(t *testing.T) {
	m, _ := newManager(t)
	pod := newPod("u1", corev1.Volume{Name: "h", VolumeSource: corev1.VolumeSource{
		EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumHugePages}}})
	wantContains(t, setupErr(t, m, pod), `volume "h": emptyDir medium "HugePages" is not supported`)
}
