package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
)

// setupEmptyDir makes the pod's directory for an emptyDir volume (mode 0777, as kubelet,
// so containers running as any user can write); medium Memory mounts a tmpfs there,
// bounded by sizeLimit when given. The directory survives container restarts.
func setupEmptyDir(dir string, src *corev1.EmptyDirVolumeSource) (string, error) {
	if err := mkdirOnce(dir, 0o777); err != nil {
		return "", err
	}
	switch src.Medium {
	case corev1.StorageMediumDefault:
		return dir, nil
	case corev1.StorageMediumMemory:
		var size int64
		if src.SizeLimit != nil {
			size = src.SizeLimit.Value()
		}
		return dir, ensureTmpfs(dir, 0o777, size)
	}
	return "", fmt.Errorf("emptyDir medium %q is not supported on this node", src.Medium)
}

// mkdirOnce makes dir (and its parents) with mode exactly, despite the umask, when it does
// not exist yet; an existing directory keeps the mode its containers may have given it.
func mkdirOnce(dir string, mode os.FileMode) error {
	if _, err := os.Lstat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, mode); err != nil {
		return err
	}
	return os.Chmod(dir, mode)
}

// checkHostPath applies a hostPath volume's type check, creating the directory or file for
// the *OrCreate types (and, as Docker's binds did, a directory for the unset type), with
// kubelet's error messages.
func checkHostPath(path string, t corev1.HostPathType) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("hostPath %q is not an absolute path", path)
	}
	fi, err := os.Stat(path)
	exists := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("hostPath type check failed: %w", err)
	}
	mode := os.FileMode(0)
	if exists {
		mode = fi.Mode()
	}
	switch t {
	case corev1.HostPathUnset, corev1.HostPathDirectoryOrCreate:
		if !exists {
			return makeDir(path)
		}
		if t == corev1.HostPathUnset {
			return nil
		}
		return want(mode.IsDir(), path, "a directory")
	case corev1.HostPathDirectory:
		return want(exists && mode.IsDir(), path, "a directory")
	case corev1.HostPathFileOrCreate:
		if !exists {
			return makeFile(path)
		}
		return want(mode.IsRegular(), path, "a file")
	case corev1.HostPathFile:
		return want(exists && mode.IsRegular(), path, "a file")
	case corev1.HostPathSocket:
		return want(exists && mode&os.ModeSocket != 0, path, "a socket file")
	case corev1.HostPathCharDev:
		return want(exists && mode&os.ModeCharDevice != 0, path, "a character device")
	case corev1.HostPathBlockDev:
		return want(exists && mode&os.ModeDevice != 0 && mode&os.ModeCharDevice == 0, path, "a block device")
	}
	return fmt.Errorf("%s is an invalid volume type", t)
}

func want(ok bool, path, what string) error {
	if ok {
		return nil
	}
	return fmt.Errorf("hostPath type check failed: %s is not %s", path, what)
}

func makeDir(path string) error {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return err
	}
	return os.Chmod(path, 0o755)
}

// makeFile creates an empty file (0644); like kubelet, not its parent directories.
func makeFile(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}
