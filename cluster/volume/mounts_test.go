//go:build linux

package volume

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/drover-ci/drover/cluster/container"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

func TestMounts(t *testing.T) {
	vol := t.TempDir()
	if err := os.MkdirAll(filepath.Join(vol, "exists"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(vol, 0o750); err != nil {
		t.Fatal(err)
	}
	realVol, _ := filepath.EvalSymlinks(vol)
	sources := map[string]Source{"data": {HostPath: vol}, "claim": {HostPath: vol, ReadOnly: true}}
	c := &corev1.Container{Name: "app",
		Env: []corev1.EnvVar{{Name: "POD", Value: "web-1"}},
		VolumeMounts: []corev1.VolumeMount{
			{Name: "data", MountPath: "/data"},
			{Name: "data", MountPath: "/ro", ReadOnly: true},
			{Name: "claim", MountPath: "/claim"},
			{Name: "data", MountPath: "/sub", SubPath: "exists"},
			{Name: "data", MountPath: "/made", SubPath: "new/deeper"},
			{Name: "data", MountPath: "/expr", SubPathExpr: "logs/$(POD)"},
		}}
	got, err := Mounts(c, sources)
	if err != nil {
		t.Fatal(err)
	}
	want := []container.Mount{
		{Type: "bind", Source: vol, Target: "/data"},
		{Type: "bind", Source: vol, Target: "/ro", ReadOnly: true},
		{Type: "bind", Source: vol, Target: "/claim", ReadOnly: true},
		{Type: "bind", Source: filepath.Join(realVol, "exists"), Target: "/sub"},
		{Type: "bind", Source: filepath.Join(realVol, "new/deeper"), Target: "/made"},
		{Type: "bind", Source: filepath.Join(realVol, "logs/web-1"), Target: "/expr"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mounts (-want +got):\n%s", diff)
	}
	if got := modeOf(t, filepath.Join(vol, "new/deeper")); got != 0o750 {
		t.Errorf("made subPath mode = %o, want the volume's 750", got)
	}
}

func TestMountsErrors(t *testing.T) {
	vol := t.TempDir()
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(vol, "escape")); err != nil {
		t.Fatal(err)
	}
	sources := map[string]Source{"data": {HostPath: vol}}
	for _, tc := range []struct {
		vm   corev1.VolumeMount
		want string
	}{
		{corev1.VolumeMount{Name: "nope", MountPath: "/x"}, `cannot find volume "nope" to mount into container "app"`},
		{corev1.VolumeMount{Name: "data", MountPath: "/x", SubPath: "a/../../etc"}, `must not contain '..'`},
		{corev1.VolumeMount{Name: "data", MountPath: "/x", SubPath: "/etc"}, `must be a relative path`},
		{corev1.VolumeMount{Name: "data", MountPath: "/x", SubPath: "escape/inner"}, `resolves outside its volume`},
	} {
		c := &corev1.Container{Name: "app", VolumeMounts: []corev1.VolumeMount{tc.vm}}
		_, err := Mounts(c, sources)
		if err == nil {
			t.Errorf("%+v: no error", tc.vm)
			continue
		}
		wantContains(t, err.Error(), tc.want)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("a subPath through a symlink created %v outside the volume", entries)
	}
}

func TestMountsSecretSubPath(t *testing.T) {
	m, _ := newManager(t, configMap("cfg", map[string]string{"app.conf": "x=1"}))
	srcs := mustSetup(t, m, newPod("u1", configMapVolume("c", corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}})))
	c := &corev1.Container{Name: "app", VolumeMounts: []corev1.VolumeMount{{Name: "c", MountPath: "/etc/app.conf", SubPath: "app.conf"}}}
	mounts, err := Mounts(c, srcs)
	if err != nil {
		t.Fatal(err)
	}
	// The file behind key -> ..data/key, inside the volume.
	if got := readFile(t, mounts[0].Source); got != "x=1" {
		t.Errorf("subPath source %s holds %q", mounts[0].Source, got)
	}
	if fi, err := os.Lstat(mounts[0].Source); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("subPath source is not a regular file (%v, %v)", fi, err)
	}
}

func TestExpandEnv(t *testing.T) {
	env := []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", ValueFrom: &corev1.EnvVarSource{}}}
	for in, want := range map[string]string{
		"x/$(A)/y": "x/1/y", "$$(A)": "$(A)", "$(B)": "$(B)", "$(C)": "$(C)", "$(A": "$(A", "a$": "a$",
	} {
		if got := expandEnv(in, env); got != want {
			t.Errorf("expandEnv(%q) = %q, want %q", in, got, want)
		}
	}
}
