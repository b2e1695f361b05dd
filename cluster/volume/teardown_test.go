//go:build linux

package volume

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestTeardown(t *testing.T) {
	needTmpfs(t)
	base := t.TempDir()
	hostDir := filepath.Join(base, "host")
	pvDir := filepath.Join(base, "pv")
	m, _ := newManager(t, secret("creds", map[string]string{"pass": "pw"}), configMap("cfg", map[string]string{"a": "1"}),
		claim("home", "host", true), pv("host", corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: pvDir}}))
	pod := newPod("u1",
		corev1.Volume{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		corev1.Volume{Name: "mem", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
		secretVolume("s", corev1.SecretVolumeSource{SecretName: "creds"}),
		configMapVolume("c", corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}),
		corev1.Volume{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostDir}}},
		corev1.Volume{Name: "p", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "home"}}},
	)
	srcs := mustSetup(t, m, pod)
	other := mustSetup(t, m, newPod("u2", corev1.Volume{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}))
	for _, p := range []string{filepath.Join(hostDir, "keep"), filepath.Join(pvDir, "keep"), filepath.Join(srcs["mem"].HostPath, "x")} {
		if err := os.WriteFile(p, []byte("data"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// What a container could leave in its emptyDir: links out of the pod.
	for i, target := range []string{hostDir, filepath.Join(pvDir, "keep")} {
		if err := os.Symlink(target, filepath.Join(srcs["work"].HostPath, "link"+string(rune('0'+i)))); err != nil {
			t.Fatal(err)
		}
	}
	if points := mountsBelow(t, m.Root); len(points) != 2 {
		t.Fatalf("mounts after Setup = %v, want the memory emptyDir and the secret", points)
	}
	uids, err := m.PodUIDs()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]types.UID{"u1", "u2"}, uids); diff != "" {
		t.Errorf("PodUIDs (-want +got):\n%s", diff)
	}

	if err := m.Teardown(context.Background(), "u1"); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if points := mountsBelow(t, m.Root); len(points) != 0 {
		t.Errorf("still mounted after Teardown: %v", points)
	}
	if _, err := os.Lstat(filepath.Join(m.Root, "u1")); !os.IsNotExist(err) {
		t.Errorf("pod dir left behind (%v)", err)
	}
	for _, p := range []string{filepath.Join(hostDir, "keep"), filepath.Join(pvDir, "keep")} {
		if got := readFile(t, p); got != "data" {
			t.Errorf("%s = %q after Teardown", p, got)
		}
	}
	if _, err := os.Stat(other["work"].HostPath); err != nil {
		t.Errorf("other pod's volume removed: %v", err)
	}
	uids, _ = m.PodUIDs()
	if diff := cmp.Diff([]types.UID{"u2"}, uids); diff != "" {
		t.Errorf("PodUIDs after Teardown (-want +got):\n%s", diff)
	}
	if err := m.Teardown(context.Background(), "u1"); err != nil {
		t.Errorf("second Teardown: %v", err)
	}
}

func mountsBelow(t *testing.T, dir string) []string {
	t.Helper()
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil
	}
	points, err := mountPointsUnder(real)
	if err != nil {
		t.Fatal(err)
	}
	return points
}

func TestTeardownKeepsOtherPodFiles(t *testing.T) {
	m, _ := newManager(t)
	mustSetup(t, m, newPod("u1", corev1.Volume{Name: "w", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}))
	// Something else the node agent keeps in the pod directory stays, and so does the dir.
	keep := filepath.Join(m.Root, "u1", "other-file")
	if err := os.WriteFile(keep, []byte("127.0.0.1 localhost"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m.Teardown(context.Background(), "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(m.Root, "u1", "volumes")); !os.IsNotExist(err) {
		t.Errorf("volumes dir left (%v)", err)
	}
	if got := readFile(t, keep); got != "127.0.0.1 localhost" {
		t.Errorf("pod file = %q", got)
	}
	if err := m.Teardown(context.Background(), "../x"); err == nil {
		t.Errorf("Teardown of a uid with a slash succeeded")
	}
}

func TestRemoveRefusesMountedDir(t *testing.T) {
	needTmpfs(t)
	dir := t.TempDir()
	inner := filepath.Join(dir, "a", "mnt")
	if err := os.MkdirAll(inner, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", inner, "tmpfs", 0, "size=64k"); err != nil {
		t.Fatal(err)
	}
	defer syscall.Unmount(inner, syscall.MNT_DETACH)
	if err := os.WriteFile(filepath.Join(inner, "f"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := removeAllOneDevice(filepath.Join(dir, "a"))
	if err == nil {
		t.Fatal("removed a tree with a mount in it")
	}
	wantContains(t, err.Error(), "another file system is mounted there")
	if got := readFile(t, filepath.Join(inner, "f")); got != "x" {
		t.Errorf("file on the mount = %q", got)
	}
}

func TestPodUIDsWithoutRoot(t *testing.T) {
	m := NewManager(filepath.Join(t.TempDir(), "missing"), nil, testNode)
	uids, err := m.PodUIDs()
	if err != nil || len(uids) != 0 {
		t.Errorf("PodUIDs = %v, %v; want none", uids, err)
	}
}
