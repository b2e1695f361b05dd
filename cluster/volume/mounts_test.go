//go:build linux

package volume

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drover-ci/drover/cluster/container"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

func TestMounts(t *testing.T) {
	needTmpfs(t) // bind mounts need the same privilege
	m, _ := newManager(t)
	pod := newPod("u1")
	vol := t.TempDir()
	t.Cleanup(func() { _ = m.Teardown(context.Background(), pod.UID) })
	if err := os.MkdirAll(filepath.Join(vol, "exists"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vol, "exists", "f"), []byte("in exists"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(vol, 0o750); err != nil {
		t.Fatal(err)
	}
	sources := map[string]Source{"data": {HostPath: vol}, "claim": {HostPath: vol, ReadOnly: true}}
	c := &corev1.Container{Name: "app",
		VolumeMounts: []corev1.VolumeMount{
			{Name: "data", MountPath: "/data"},
			{Name: "data", MountPath: "/ro", ReadOnly: true},
			{Name: "claim", MountPath: "/claim"},
			{Name: "data", MountPath: "/sub", SubPath: "exists"},
			{Name: "data", MountPath: "/made", SubPath: "new/deeper"},
			{Name: "data", MountPath: "/expr", SubPathExpr: "logs/$(POD)"},
		}}
	got, err := m.Mounts(pod, c, map[string]string{"POD": "web-1"}, sources)
	if err != nil {
		t.Fatal(err)
	}
	at := func(i string) string { return filepath.Join(m.Root, "u1", "volume-subpaths", "data", "app", i) }
	want := []container.Mount{
		{Type: "bind", Source: vol, Target: "/data"},
		{Type: "bind", Source: vol, Target: "/ro", ReadOnly: true},
		{Type: "bind", Source: vol, Target: "/claim", ReadOnly: true},
		{Type: "bind", Source: at("3"), Target: "/sub"},
		{Type: "bind", Source: at("4"), Target: "/made"},
		{Type: "bind", Source: at("5"), Target: "/expr"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mounts (-want +got):\n%s", diff)
	}
	// The per-container locations are bind mounts of what was opened.
	if got := readFile(t, filepath.Join(at("3"), "f")); got != "in exists" {
		t.Errorf("subPath bind mount shows %q", got)
	}
	if err := os.WriteFile(filepath.Join(at("5"), "log"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(vol, "logs", "web-1", "log")); got != "x" {
		t.Errorf("a write through the subPath mount reached %q", got)
	}
	if got := modeOf(t, filepath.Join(vol, "new/deeper")); got != 0o750 {
		t.Errorf("made subPath mode = %o, want the volume's 750", got)
	}
	// A second call (a restarted container) binds again over the same locations.
	if _, err := m.Mounts(pod, c, map[string]string{"POD": "web-1"}, sources); err != nil {
		t.Fatal(err)
	}
	// Teardown unmounts them and removes the directory; the volume's data stays.
	if err := m.Teardown(context.Background(), pod.UID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(m.Root, "u1")); !os.IsNotExist(err) {
		t.Errorf("pod directory left after teardown: %v", err)
	}
	if got := readFile(t, filepath.Join(vol, "exists", "f")); got != "in exists" {
		t.Errorf("volume data after teardown: %q", got)
	}
}

func TestMountsErrors(t *testing.T) {
	needTmpfs(t)
	m, _ := newManager(t)
	pod := newPod("u2")
	t.Cleanup(func() { _ = m.Teardown(context.Background(), pod.UID) })
	vol := t.TempDir()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("host"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"escape": outside, "root": "/", "file": filepath.Join(outside, "secret")} {
		if err := os.Symlink(target, filepath.Join(vol, name)); err != nil {
			t.Fatal(err)
		}
	}
	sources := map[string]Source{"data": {HostPath: vol}}
	for _, tc := range []struct {
		vm   corev1.VolumeMount
		want string
	}{
		{corev1.VolumeMount{Name: "nope", MountPath: "/x"}, `cannot find volume "nope" to mount into container "app"`},
		{corev1.VolumeMount{Name: "data", MountPath: "/x", SubPath: "a/../../etc"}, "unable to provision SubPath `a/../../etc`: must not contain '..'"},
		{corev1.VolumeMount{Name: "data", MountPath: "/x", SubPath: "/etc"}, "error SubPath `/etc` must not be an absolute path"},
		{corev1.VolumeMount{Name: "data", MountPath: "/x", SubPath: "escape/inner"}, `resolves outside its volume`},
		{corev1.VolumeMount{Name: "data", MountPath: "/x", SubPath: "root"}, `resolves outside its volume`},
		{corev1.VolumeMount{Name: "data", MountPath: "/x", SubPath: "file"}, `resolves outside its volume`},
		{corev1.VolumeMount{Name: "data", MountPath: "/x", SubPathExpr: "$(POD)/$(NONE)/$(EMPTY)"}, `missing value for EMPTY, NONE`},
		{corev1.VolumeMount{Name: "data", MountPath: "/x", SubPathExpr: "$(ABS)"}, "error SubPath `/etc` must not be an absolute path"},
	} {
		c := &corev1.Container{Name: "app", VolumeMounts: []corev1.VolumeMount{tc.vm}}
		got, err := m.Mounts(pod, c, map[string]string{"POD": "p", "EMPTY": "", "ABS": "/etc"}, sources)
		if err == nil {
			t.Errorf("%+v: no error, mounts %v", tc.vm, got)
			continue
		}
		wantContains(t, err.Error(), tc.want)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 1 {
		t.Errorf("a subPath through a symlink changed what is outside the volume: %v", entries)
	}
	if points, _ := mountPointsUnder(m.Root); len(points) != 0 {
		t.Errorf("refused subPaths left mounts: %v", points)
	}
}

// A symlink swapped in after the path was resolved (the CVE-2021-25741 race) is not followed
// by the open whose descriptor is bind-mounted: the final component, or one on the way.
func TestSubPathOpenRefusesSwappedSymlink(t *testing.T) {
	vol := t.TempDir()
	root, _ := filepath.EvalSymlinks(vol)
	if err := os.MkdirAll(filepath.Join(root, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, link := range []string{"swapped", "dir/swapped"} {
		if err := os.Symlink("/", filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"swapped", "swapped/etc", "dir/swapped", "dir/swapped/etc/passwd"} {
		fd, err := openInside(root, filepath.Join(root, p))
		if err == nil {
			t.Errorf("openInside(%s) opened a path through a symlink (fd %d)", p, fd)
			continue
		}
		if !strings.Contains(err.Error(), "symlink") && !strings.Contains(err.Error(), "not a directory") {
			t.Errorf("openInside(%s): %v", p, err)
		}
	}
	if _, err := openInside(root, "/etc"); err != errOutside {
		t.Errorf("openInside(/etc) = %v, want %v", err, errOutside)
	}
	// Directories made for a subPath are made below opened parents: a symlinked parent fails.
	if err := safeMakeDir(root, "dir/swapped/new", 0o755); err == nil {
		t.Error("safeMakeDir made a directory through a symlink to /")
	}
	if _, err := os.Stat("/new"); err == nil {
		t.Error("/new exists")
	}
}

func TestMountsSecretSubPath(t *testing.T) {
	needTmpfs(t)
	m, _ := newManager(t, configMap("cfg", map[string]string{"app.conf": "x=1"}))
	pod := newPod("u1", configMapVolume("c", corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}))
	srcs := mustSetup(t, m, pod)
	t.Cleanup(func() { _ = m.Teardown(context.Background(), pod.UID) })
	c := &corev1.Container{Name: "app", VolumeMounts: []corev1.VolumeMount{{Name: "c", MountPath: "/etc/app.conf", SubPath: "app.conf"}}}
	mounts, err := m.Mounts(pod, c, nil, srcs)
	if err != nil {
		t.Fatal(err)
	}
	// The file behind key -> ..data/key, inside the volume, bound on a file.
	if got := readFile(t, mounts[0].Source); got != "x=1" {
		t.Errorf("subPath source %s holds %q", mounts[0].Source, got)
	}
	if fi, err := os.Lstat(mounts[0].Source); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("subPath source is not a regular file (%v, %v)", fi, err)
	}
}

func TestSubPathOf(t *testing.T) {
	env := map[string]string{"A": "1", "E": ""}
	for in, want := range map[string]string{
		"x/$(A)/y": "x/1/y", "$$(A)": "$(A)", "$(A": "$(A", "a$": "a$", "$(A)$(A)": "11",
	} {
		got, err := SubPathOf(corev1.VolumeMount{SubPathExpr: in}, env)
		if err != nil || got != want {
			t.Errorf("SubPathOf(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, want := range map[string]string{"$(B)": "missing value for B", "$(E)/$(B)": "missing value for B, E"} {
		if _, err := SubPathOf(corev1.VolumeMount{SubPathExpr: in}, env); err == nil || err.Error() != want {
			t.Errorf("SubPathOf(%q) error %v, want %q", in, err, want)
		}
	}
}

// What the container is given is the directory that was checked: replacing it by a symlink to
// / afterwards (before the engine mounts it) does not show the host's root through it. (The
// old code handed the engine the checked path, which then followed the symlink.)
func TestSubPathSwappedAfterCheck(t *testing.T) {
	needTmpfs(t)
	m, _ := newManager(t)
	pod := newPod("u3")
	t.Cleanup(func() { _ = m.Teardown(context.Background(), pod.UID) })
	vol := t.TempDir()
	if err := os.MkdirAll(filepath.Join(vol, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vol, "d", "mine"), []byte("pod data"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &corev1.Container{Name: "app", VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/x", SubPath: "d"}}}
	mounts, err := m.Mounts(pod, c, nil, map[string]Source{"data": {HostPath: vol}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(vol, "d"), filepath.Join(vol, "moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/", filepath.Join(vol, "d")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(mounts[0].Source, "etc", "passwd")); err == nil {
		t.Fatalf("the host's /etc/passwd is visible through the subPath mount %s", mounts[0].Source)
	}
	if got := readFile(t, filepath.Join(mounts[0].Source, "mine")); got != "pod data" {
		t.Errorf("subPath mount shows %q, want the checked directory's file", got)
	}
}
