package volume

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	corev1 "k8s.io/api/core/v1"
)

// The kubelet's masks for fsGroup ownership (pkg/volume/volume_linux.go).
const (
	rwMask   = os.FileMode(0o660)
	roMask   = os.FileMode(0o440)
	execMask = os.FileMode(0o110)
)

// setOwnership is the kubelet's SetVolumeOwnership: every file and directory under dir is
// group-owned by fsGroup (its owner kept) and gains group read (and write unless readOnly);
// directories also gain group search and setgid, so new files inherit the group. With
// policy OnRootMismatch nothing is changed when dir already has that group and those bits.
func setOwnership(dir string, fsGroup int64, policy *corev1.PodFSGroupChangePolicy, readOnly bool) error {
	if policy != nil && *policy == corev1.FSGroupChangeOnRootMismatch && !requiresPermissionChange(dir, fsGroup, readOnly) {
		return nil
	}
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(path, -1, int(fsGroup)); err != nil {
			return err
		}
		if info.Mode()&os.ModeSymlink != 0 {
			return nil // chmod would follow it
		}
		mask := rwMask
		if readOnly {
			mask = roMask
		}
		if info.IsDir() {
			mask |= os.ModeSetgid | execMask
		}
		return os.Chmod(path, info.Mode()|mask)
	})
	if err != nil {
		return fmt.Errorf("fsGroup %d: %w", fsGroup, err)
	}
	return nil
}

// requiresPermissionChange is the kubelet's test for OnRootMismatch: the root is not a
// directory of group fsGroup with the group bits and setgid already set.
func requiresPermissionChange(dir string, fsGroup int64, readOnly bool) bool {
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return true
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || int64(st.Gid) != fsGroup {
		return true
	}
	perms := rwMask
	if readOnly {
		perms = roMask
	}
	perms |= execMask
	return fi.Mode().Perm()&perms != perms || fi.Mode()&os.ModeSetgid == 0
}
