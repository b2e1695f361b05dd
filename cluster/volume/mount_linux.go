package volume

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

const tmpfsFlags = syscall.MS_NOSUID | syscall.MS_NODEV

// ensureTmpfs mounts a tmpfs (mode, size bytes; 0: the kernel's default) on dir unless one is
// mounted there already; a mounted one smaller than size is grown by a remount.
func ensureTmpfs(dir string, mode os.FileMode, size int64) error {
	mounted, err := isMountPoint(dir)
	if err != nil {
		return err
	}
	if mounted {
		return growTmpfs(dir, size)
	}
	data := "mode=" + strconv.FormatUint(uint64(mode.Perm()), 8)
	if size > 0 {
		data += ",size=" + strconv.FormatInt(size, 10)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", tmpfsFlags, data); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	return nil
}

func growTmpfs(dir string, size int64) error {
	if size <= 0 {
		return nil
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", dir, err)
	}
	if int64(st.Blocks)*st.Bsize >= size {
		return nil
	}
	data := "size=" + strconv.FormatInt(size, 10)
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT|tmpfsFlags, data); err != nil {
		return fmt.Errorf("remount tmpfs on %s: %w", dir, err)
	}
	return nil
}

// isMountPoint reports whether something is mounted on dir (its device differs from its
// parent's, which holds for tmpfs and every other separate file system).
func isMountPoint(dir string) (bool, error) {
	var st, parent syscall.Stat_t
	if err := syscall.Lstat(dir, &st); err != nil {
		return false, fmt.Errorf("stat %s: %w", dir, err)
	}
	if err := syscall.Lstat(filepath.Dir(dir), &parent); err != nil {
		return false, fmt.Errorf("stat %s: %w", filepath.Dir(dir), err)
	}
	return st.Dev != parent.Dev, nil
}

// unmountUnder unmounts every mount on dir or below it, deepest first (lazily when busy),
// until none is left.
func unmountUnder(ctx context.Context, dir string) error {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	for range 10 {
		if err := ctx.Err(); err != nil {
			return err
		}
		points, err := mountPointsUnder(real)
		if err != nil || len(points) == 0 {
			return err
		}
		for _, p := range points {
			if err := unmount(p); err != nil {
				return err
			}
		}
	}
	return fmt.Errorf("mounts left under %s after repeated unmounts", dir)
}

func unmount(path string) error {
	err := syscall.Unmount(path, 0)
	if errors.Is(err, syscall.EBUSY) {
		err = syscall.Unmount(path, syscall.MNT_DETACH)
	}
	if err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("unmount %s: %w", path, err)
	}
	return nil
}

// mountPointsUnder lists the mount points at or below dir, deepest first.
func mountPointsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		p := unescapeMountPath(fields[4])
		if p == dir || strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	sort.SliceStable(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	return points, nil
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space, ...).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
