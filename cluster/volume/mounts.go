package volume

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/drover-ci/drover/cluster/container"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Mounts turns a container's volumeMounts into bind mounts of sources (from Setup), in the
// container's order. readOnly is the mount's or the volume's. A subPath (or subPathExpr,
// expanded with env, the container's resolved environment) is opened inside its volume
// without following any symlink out of it and bind-mounted, through the opened descriptor,
// at Root/<pod uid>/volume-subpaths/<volume>/<container>/<index>, which the container gets:
// a symlink swapped in after the check is never followed (the CVE-2021-25741 class), as the
// kubelet does. A missing subPath is made as a directory with the volume's mode. A mount of a
// volume missing from sources is an error naming it.
func (m *Manager) Mounts(pod *corev1.Pod, c *corev1.Container, env map[string]string, sources map[string]Source) ([]container.Mount, error) {
	if err := checkName(string(pod.UID)); err != nil {
		return nil, fmt.Errorf("pod uid: %w", err)
	}
	if err := checkName(c.Name); err != nil {
		return nil, fmt.Errorf("container name: %w", err)
	}
	return mounts(c, env, sources, func(i int, vm corev1.VolumeMount, src Source, sub string) (string, error) {
		target := filepath.Join(m.subPathsDir(pod.UID), vm.Name, c.Name, fmt.Sprint(i))
		return bindSubPath(src.HostPath, sub, target)
	})
}

// Mounts is Manager.Mounts for a node whose volumes are placeholders no container touches
// (hollow): a subPath is checked and expanded as there, then joined to its source's path.
func Mounts(c *corev1.Container, env map[string]string, sources map[string]Source) ([]container.Mount, error) {
	return mounts(c, env, sources, func(_ int, _ corev1.VolumeMount, src Source, sub string) (string, error) {
		return filepath.Join(src.HostPath, sub), nil
	})
}

func mounts(c *corev1.Container, env map[string]string, sources map[string]Source,
	subPath func(i int, vm corev1.VolumeMount, src Source, sub string) (string, error)) ([]container.Mount, error) {
	out := make([]container.Mount, 0, len(c.VolumeMounts))
	for i, vm := range c.VolumeMounts {
		src, ok := sources[vm.Name]
		if !ok {
			return nil, fmt.Errorf("cannot find volume %q to mount into container %q", vm.Name, c.Name)
		}
		host := src.HostPath
		sub, err := SubPathOf(vm, env)
		if err != nil {
			return nil, err
		}
		if sub != "" {
			if host, err = subPath(i, vm, src, sub); err != nil {
				return nil, fmt.Errorf("failed to prepare subPath for volumeMount %q of container %q: subPath %q: %w", vm.Name, c.Name, sub, err)
			}
		}
		out = append(out, container.Mount{
			Type:     "bind",
			Source:   host,
			Target:   vm.MountPath,
			ReadOnly: vm.ReadOnly || src.ReadOnly,
		})
	}
	return out, nil
}

// SubPathOf is a volumeMount's subPath, or its subPathExpr expanded with env as the kubelet
// does ("missing value for X" when a referenced variable is unset or empty), checked to be
// relative and without "..", with the kubelet's error texts.
func SubPathOf(vm corev1.VolumeMount, env map[string]string) (string, error) {
	sub := vm.SubPath
	if vm.SubPathExpr != "" {
		var err error
		if sub, err = expandSubPathExpr(vm.SubPathExpr, env); err != nil {
			return "", err
		}
	}
	if sub == "" {
		return "", nil
	}
	if filepath.IsAbs(sub) {
		return "", fmt.Errorf("error SubPath `%s` must not be an absolute path", sub)
	}
	for _, part := range strings.Split(filepath.ToSlash(sub), "/") {
		if part == ".." {
			return "", fmt.Errorf("unable to provision SubPath `%s`: must not contain '..'", sub)
		}
	}
	return sub, nil
}

// expandSubPathExpr replaces $(NAME) with env's value of NAME and "$$" with "$"; a reference
// to a variable that is unset or empty is an error naming every such variable, as kubelet's
// ExpandContainerVolumeMounts says it.
func expandSubPathExpr(s string, env map[string]string) (string, error) {
	missing := map[string]bool{}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], "$$"):
			b.WriteByte('$')
			i++
		case strings.HasPrefix(s[i:], "$("):
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				i = len(s)
				continue
			}
			name := s[i+2 : i+2+end]
			v := env[name]
			if v == "" {
				missing[name] = true
			}
			b.WriteString(v)
			i += 2 + end
		default:
			b.WriteByte(s[i])
		}
	}
	if len(missing) > 0 {
		names := make([]string, 0, len(missing))
		for n := range missing {
			names = append(names, n)
		}
		sort.Strings(names)
		return "", fmt.Errorf("missing value for %s", strings.Join(names, ", "))
	}
	return b.String(), nil
}

func (m *Manager) subPathsDir(uid types.UID) string {
	return filepath.Join(m.Root, string(uid), "volume-subpaths")
}

var errOutside = errors.New("resolves outside its volume")
