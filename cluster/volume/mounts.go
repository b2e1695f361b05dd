package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/drover-ci/drover/cluster/container"
	corev1 "k8s.io/api/core/v1"
)

// Mounts turns a container's volumeMounts into bind mounts of sources (from Setup), in the
// container's order. readOnly is the mount's or the volume's; subPath (or subPathExpr,
// expanded with the container's literal env values) mounts a path inside the volume,
// created as a directory when missing and resolved on the host, so it can never point
// outside its volume. A mount of a volume missing from sources is an error naming it.
func Mounts(c *corev1.Container, sources map[string]Source) ([]container.Mount, error) {
	mounts := make([]container.Mount, 0, len(c.VolumeMounts))
	for _, vm := range c.VolumeMounts {
		src, ok := sources[vm.Name]
		if !ok {
			return nil, fmt.Errorf("cannot find volume %q to mount into container %q", vm.Name, c.Name)
		}
		host := src.HostPath
		sub := vm.SubPath
		if vm.SubPathExpr != "" {
			sub = expandEnv(vm.SubPathExpr, c.Env)
		}
		if sub != "" {
			p, err := subPath(src.HostPath, sub)
			if err != nil {
				return nil, fmt.Errorf("volume %q of container %q: %w", vm.Name, c.Name, err)
			}
			host = p
		}
		mounts = append(mounts, container.Mount{
			Type:     "bind",
			Source:   host,
			Target:   vm.MountPath,
			ReadOnly: vm.ReadOnly || src.ReadOnly,
		})
	}
	return mounts, nil
}

// subPath returns the host path of sub inside the volume at base, with symlinks resolved,
// making missing directories with the volume directory's mode.
func subPath(base, sub string) (string, error) {
	if filepath.IsAbs(sub) {
		return "", fmt.Errorf("subPath %q must be a relative path", sub)
	}
	for _, c := range strings.Split(sub, "/") {
		if c == ".." {
			return "", fmt.Errorf("subPath %q must not contain '..'", sub)
		}
	}
	root, err := filepath.EvalSymlinks(base)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(root)
	if err != nil {
		return "", err
	}
	path := root
	for _, c := range strings.Split(filepath.Clean(sub), "/") {
		if path, err = subPathStep(root, path, c, fi.Mode().Perm()); err != nil {
			return "", fmt.Errorf("subPath %q: %w", sub, err)
		}
	}
	return path, nil
}

// subPathStep descends from dir (resolved, inside root) into name, making it when missing,
// and returns the resolved result, which must stay inside root.
func subPathStep(root, dir, name string, perm os.FileMode) (string, error) {
	next := filepath.Join(dir, name)
	if _, err := os.Lstat(next); errors.Is(err, os.ErrNotExist) {
		if err := os.Mkdir(next, perm); err != nil && !errors.Is(err, os.ErrExist) {
			return "", err
		}
		if err := os.Chmod(next, perm); err != nil {
			return "", err
		}
	}
	resolved, err := filepath.EvalSymlinks(next)
	if err != nil {
		return "", err
	}
	if resolved != root && !strings.HasPrefix(resolved, root+"/") {
		return "", errors.New("resolves outside its volume")
	}
	return resolved, nil
}

// expandEnv replaces $(NAME) with the value of the container's env var NAME (literal values
// only), "$$" with "$", and leaves unknown references as written.
func expandEnv(s string, env []corev1.EnvVar) string {
	vals := map[string]string{}
	for _, e := range env {
		if e.ValueFrom == nil {
			vals[e.Name] = e.Value
		}
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], "$$"):
			b.WriteByte('$')
			i++
		case strings.HasPrefix(s[i:], "$("):
			if end := strings.IndexByte(s[i+2:], ')'); end >= 0 {
				if v, ok := vals[s[i+2:i+2+end]]; ok {
					b.WriteString(v)
					i += 2 + end // at ')'
					continue
				}
			}
			b.WriteByte(s[i])
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
