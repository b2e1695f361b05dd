//go:build linux

package volume

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func secret(name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func configMap(name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}, Data: data}
}

func secretVolume(name string, src corev1.SecretVolumeSource) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &src}}
}

func configMapVolume(name string, src corev1.ConfigMapVolumeSource) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{ConfigMap: &src}}
}

// visible lists the user-visible entries of a files volume (not the ".." internals).
func visible(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if len(e.Name()) < 2 || e.Name()[:2] != ".." {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

func TestSecretFilesOnTmpfs(t *testing.T) {
	needTmpfs(t)
	m, _ := newManager(t, secret("creds", map[string]string{"user": "admin", "pass": "s3cret"}))
	pod := newPod("u1", secretVolume("c", corev1.SecretVolumeSource{SecretName: "creds"}))
	src := mustSetup(t, m, pod)["c"]
	if src.ReadOnly {
		t.Errorf("ReadOnly = true; the volumeMount decides")
	}
	dir := src.HostPath
	if got := fsType(t, dir); got != "tmpfs" {
		t.Fatalf("secret volume on %q, want tmpfs", got)
	}
	if diff := cmp.Diff([]string{"pass", "user"}, visible(t, dir)); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if got := readFile(t, filepath.Join(dir, "pass")); got != "s3cret" {
		t.Errorf("pass = %q", got)
	}
	if got := modeOf(t, filepath.Join(dir, "user")); got != 0o644 {
		t.Errorf("mode = %o, want the default 644", got)
	}
	// kubelet's layout: key -> ..data/key, ..data -> ..<timestamp>.
	if link, err := os.Readlink(filepath.Join(dir, "user")); err != nil || link != "..data/user" {
		t.Errorf("user link = %q, %v", link, err)
	}
}

func TestSecretItemsModesAndOptional(t *testing.T) {
	needTmpfs(t)
	m, _ := newManager(t, secret("creds", map[string]string{"user": "admin", "pass": "s3cret"}))
	pod := newPod("u1",
		secretVolume("items", corev1.SecretVolumeSource{SecretName: "creds", DefaultMode: ptr(int32(0o400)),
			Items: []corev1.KeyToPath{{Key: "pass", Path: "conf/password"}, {Key: "user", Path: "u", Mode: ptr(int32(0o640))}}}),
		secretVolume("missing", corev1.SecretVolumeSource{SecretName: "nope", Optional: ptr(true)}),
		secretVolume("partial", corev1.SecretVolumeSource{SecretName: "creds", Optional: ptr(true),
			Items: []corev1.KeyToPath{{Key: "absent", Path: "a"}, {Key: "user", Path: "u"}}}),
	)
	srcs := mustSetup(t, m, pod)
	dir := srcs["items"].HostPath
	if diff := cmp.Diff([]string{"conf", "u"}, visible(t, dir)); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if got := readFile(t, filepath.Join(dir, "conf", "password")); got != "s3cret" {
		t.Errorf("conf/password = %q", got)
	}
	if got := modeOf(t, filepath.Join(dir, "conf", "password")); got != 0o400 {
		t.Errorf("defaultMode: mode = %o, want 400", got)
	}
	if got := modeOf(t, filepath.Join(dir, "u")); got != 0o640 {
		t.Errorf("item mode: mode = %o, want 640", got)
	}
	if got := visible(t, srcs["missing"].HostPath); len(got) != 0 {
		t.Errorf("optional missing secret: files %v, want none", got)
	}
	if diff := cmp.Diff([]string{"u"}, visible(t, srcs["partial"].HostPath)); diff != "" {
		t.Errorf("optional missing key (-want +got):\n%s", diff)
	}
}

func TestSecretAndConfigMapErrors(t *testing.T) {
	m, _ := newManager(t, secret("creds", map[string]string{"user": "admin"}), configMap("cfg", map[string]string{"a": "1"}))
	got := setupErr(t, m, newPod("u1",
		secretVolume("s1", corev1.SecretVolumeSource{SecretName: "nope"}),
		secretVolume("s2", corev1.SecretVolumeSource{SecretName: "creds", Items: []corev1.KeyToPath{{Key: "pass", Path: "p"}}}),
		configMapVolume("c1", corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}}),
		configMapVolume("c2", corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"},
			Items: []corev1.KeyToPath{{Key: "b", Path: "b"}}}),
		configMapVolume("c3", corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"},
			Items: []corev1.KeyToPath{{Key: "a", Path: "../escape"}}}),
	))
	for _, want := range []string{
		`volume "s1": couldn't get secret ns/nope: secrets "nope" not found`,
		`volume "s2": couldn't find key pass in Secret ns/creds`,
		`volume "c1": couldn't get configMap ns/nope: configmaps "nope" not found`,
		`volume "c2": configmap references non-existent config key: b`,
		`volume "c3": invalid path "../escape"`,
	} {
		wantContains(t, got, want)
	}
}

func TestConfigMapOnDiskWithBinaryData(t *testing.T) {
	cm := configMap("cfg", map[string]string{"app.conf": "x=1"})
	cm.BinaryData = map[string][]byte{"blob": {0, 1, 2}}
	m, _ := newManager(t, cm)
	dir := mustSetup(t, m, newPod("u1", configMapVolume("c", corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, DefaultMode: ptr(int32(0o600))})))["c"].HostPath
	if got := fsType(t, dir); got == "tmpfs" && fsType(t, m.Root) != "tmpfs" {
		t.Errorf("configMap volume on tmpfs")
	}
	if got := readFile(t, filepath.Join(dir, "app.conf")); got != "x=1" {
		t.Errorf("app.conf = %q", got)
	}
	if got := readFile(t, filepath.Join(dir, "blob")); got != "\x00\x01\x02" {
		t.Errorf("blob = %q", got)
	}
	if got := modeOf(t, filepath.Join(dir, "app.conf")); got != 0o600 {
		t.Errorf("mode = %o, want 600", got)
	}
}

func TestConfigMapUpdatedAtomically(t *testing.T) {
	m, client := newManager(t, configMap("cfg", map[string]string{"a": "1", "b": "2"}))
	pod := newPod("u1", configMapVolume("c", corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}))
	dir := mustSetup(t, m, pod)["c"].HostPath
	first, err := os.Readlink(filepath.Join(dir, "..data"))
	if err != nil {
		t.Fatal(err)
	}
	// Unchanged: nothing is rewritten.
	mustSetup(t, m, pod)
	if again, _ := os.Readlink(filepath.Join(dir, "..data")); again != first {
		t.Errorf("unchanged configMap rewritten: ..data %q -> %q", first, again)
	}
	ctx := context.Background()
	if _, err := client.CoreV1().ConfigMaps("ns").Update(ctx, configMap("cfg", map[string]string{"a": "10", "c": "3"}), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	mustSetup(t, m, pod)
	if diff := cmp.Diff([]string{"a", "c"}, visible(t, dir)); diff != "" {
		t.Errorf("files after update (-want +got):\n%s", diff)
	}
	if got := readFile(t, filepath.Join(dir, "a")); got != "10" {
		t.Errorf("a = %q after update", got)
	}
	next, _ := os.Readlink(filepath.Join(dir, "..data"))
	if next == first {
		t.Errorf("..data still points at %q", first)
	}
	if _, err := os.Lstat(filepath.Join(dir, first)); !os.IsNotExist(err) {
		t.Errorf("old data directory %s left behind (%v)", first, err)
	}
}

func TestSecretUpdateAndModeChange(t *testing.T) {
	needTmpfs(t)
	m, client := newManager(t, secret("creds", map[string]string{"pass": "old"}))
	pod := newPod("u1", secretVolume("c", corev1.SecretVolumeSource{SecretName: "creds"}))
	dir := mustSetup(t, m, pod)["c"].HostPath
	if _, err := client.CoreV1().Secrets("ns").Update(context.Background(), secret("creds", map[string]string{"pass": "new"}), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	mustSetup(t, m, pod)
	if got := readFile(t, filepath.Join(dir, "pass")); got != "new" {
		t.Errorf("pass = %q after update", got)
	}
	pod.Spec.Volumes[0].Secret.DefaultMode = ptr(int32(0o440))
	mustSetup(t, m, pod)
	if got := modeOf(t, filepath.Join(dir, "pass")); got != 0o440 {
		t.Errorf("mode = %o after defaultMode change, want 440", got)
	}
	if points, _ := mountPointsUnder(dir); len(points) != 1 {
		t.Errorf("mounts at %s = %v, want exactly one", dir, points)
	}
}
