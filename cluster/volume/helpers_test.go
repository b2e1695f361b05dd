//go:build linux

package volume

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/drover-ci/drover/internal/uptest"
)

const testNode = "node-1"

// newManager returns a Manager over a fake clientset holding objs, rooted in a temp dir
// whose mounts are undone before the dir is removed.
func newManager(t *testing.T, objs ...runtime.Object) (*Manager, *fake.Clientset) {
	t.Helper()
	root := t.TempDir()
	t.Cleanup(func() {
		if err := unmountUnder(context.Background(), root); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	client := fake.NewClientset(objs...)
	return NewManager(root, client, testNode), client
}

// needTmpfs skips the test when mounting a tmpfs is not permitted here (not root, or a
// sandbox that forbids it), unless DROVER_E2E=1 demands real mounts; other errors fail.
func needTmpfs(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64k")
	if err == nil {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Fatalf("unmount probe tmpfs: %v", err)
		}
		return
	}
	msg := "cannot mount tmpfs (needs root and CAP_SYS_ADMIN): " + err.Error()
	if !errors.Is(err, syscall.EPERM) {
		t.Fatal(msg)
	}
	uptest.RequireE2E(t, msg)
}

func newPod(uid string, vols ...corev1.Volume) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: types.UID(uid)},
		Spec:       corev1.PodSpec{NodeName: testNode, Volumes: vols},
	}
}

func mustSetup(t *testing.T, m *Manager, pod *corev1.Pod) map[string]Source {
	t.Helper()
	srcs, err := m.Setup(context.Background(), pod)
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	return srcs
}

func setupErr(t *testing.T, m *Manager, pod *corev1.Pod) string {
	t.Helper()
	srcs, err := m.Setup(context.Background(), pod)
	if err == nil {
		t.Fatalf("Setup succeeded (%v), want an error", srcs)
	}
	if srcs != nil {
		t.Errorf("Setup returned sources %v with its error", srcs)
	}
	return err.Error()
}

func wantContains(t *testing.T, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Errorf("error %q does not contain %q", got, want)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

func modeOf(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	return fi.Mode().Perm()
}

// fsType returns the file system type mounted at or containing path ("tmpfs", "ext4", ...),
// from the longest matching mount point in mountinfo.
func fsType(t *testing.T, path string) string {
	t.Helper()
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	best, typ := "", ""
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 9 {
			continue
		}
		mp := unescapeMountPath(f[4])
		if (real == mp || strings.HasPrefix(real, strings.TrimSuffix(mp, "/")+"/")) && len(mp) >= len(best) {
			sep := 6
			for sep < len(f) && f[sep] != "-" {
				sep++
			}
			if sep+1 < len(f) {
				best, typ = mp, f[sep+1]
			}
		}
	}
	return typ
}

func ptr[T any](v T) *T { return &v }
