package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// bindSubPath makes sub (relative, no "..") inside the volume at volPath available at target
// and returns target. As kubelet's doBindSubPath: symlinks inside the volume are resolved once
// and the result must stay inside it; missing directories are made component by component
// without following symlinks; then the resolved path is opened component by component with
// O_NOFOLLOW from the volume's root, and the opened descriptor (/proc/<pid>/fd/<n>) is
// bind-mounted on target. What the container gets is what was opened: a symlink swapped in
// after the check is not followed, it fails the open.
func bindSubPath(volPath, sub, target string) (string, error) {
	root, err := filepath.EvalSymlinks(volPath)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(root)
	if err != nil {
		return "", err
	}
	if err := safeMakeDir(root, sub, fi.Mode().Perm()); err != nil {
		return "", err
	}
	resolved, err := filepath.EvalSymlinks(filepath.Join(root, sub))
	if err != nil {
		return "", err
	}
	fd, err := openInside(root, resolved)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", fmt.Errorf("stat %s: %w", resolved, err)
	}
	if err := prepareTarget(target, st.Mode&unix.S_IFMT == unix.S_IFDIR); err != nil {
		return "", err
	}
	src := fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), fd)
	if err := unix.Mount(src, target, "", unix.MS_BIND, ""); err != nil {
		return "", fmt.Errorf("bind mount %s (%s) on %s: %w", resolved, src, target, err)
	}
	return target, nil
}

// openInside opens path, which must be root or below it, from root one component at a time
// with O_PATH|O_NOFOLLOW, refusing any component that is a symlink. The caller closes the
// descriptor.
func openInside(root, path string) (int, error) {
	rel, err := filepath.Rel(root, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
		return -1, errOutside
	}
	fd, err := unix.Open(root, unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", root, err)
	}
	if rel == "." {
		return fd, nil
	}
	cur := root
	for _, seg := range strings.Split(rel, "/") {
		cur = filepath.Join(cur, seg)
		next, err := unix.Openat(fd, seg, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			return -1, fmt.Errorf("open %s: %w", cur, err)
		}
		fd = next
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("stat %s: %w", cur, err)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			unix.Close(fd)
			return -1, fmt.Errorf("%s is a symlink: not followed", cur)
		}
	}
	return fd, nil
}

// safeMakeDir makes the missing directories of sub below root with mode perm, as kubelet's
// doSafeMakeDir: the existing part is resolved and must stay inside root, each new directory
// is made relative to an opened parent and opened with O_NOFOLLOW before the next.
func safeMakeDir(root, sub string, perm os.FileMode) error {
	parts := strings.Split(filepath.Clean(sub), "/")
	dir, i := root, 0
	for ; i < len(parts); i++ {
		if _, err := os.Lstat(filepath.Join(dir, parts[i])); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				break
			}
			return err
		}
		dir = filepath.Join(dir, parts[i])
	}
	if i == len(parts) {
		return nil
	}
	resolved, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	fd, err := openInside(root, resolved)
	if err != nil {
		return err
	}
	defer func() { unix.Close(fd) }()
	for _, p := range parts[i:] {
		if err := unix.Mkdirat(fd, p, uint32(perm)); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("mkdir %s: %w", filepath.Join(resolved, p), err)
		}
		next, err := unix.Openat(fd, p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", filepath.Join(resolved, p), err)
		}
		unix.Close(fd)
		fd = next
		if err := unix.Fchmod(fd, uint32(perm)); err != nil {
			return fmt.Errorf("chmod %s: %w", filepath.Join(resolved, p), err)
		}
		resolved = filepath.Join(resolved, p)
	}
	return nil
}

// prepareTarget makes target a directory (dir) or an empty file to bind-mount on, unmounting
// an earlier bind (a restarted container's) first.
func prepareTarget(target string, dir bool) error {
	points, err := mountPointsUnder(target)
	if err != nil {
		return err
	}
	for _, p := range points {
		if err := unmount(p); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil {
		return err
	}
	if fi, err := os.Lstat(target); err == nil {
		if fi.IsDir() == dir && (dir || fi.Mode().IsRegular()) {
			return nil
		}
		if err := os.Remove(target); err != nil {
			return err
		}
	}
	if dir {
		return os.Mkdir(target, 0o750)
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	return f.Close()
}

// syscallNoFollow opens a termination log without following a symlink put in its place.
const syscallNoFollow = unix.O_NOFOLLOW
