package nodeagent

import (
	"fmt"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover-ci/drover/cluster/container"
)

// mountsFor turns a container's volumeMounts into bind mounts of the prepared volumes.
func mountsFor(c *corev1.Container, sources map[string]VolumeSource) ([]container.Mount, error) {
	var out []container.Mount
	for i, vm := range c.VolumeMounts {
		src, ok := sources[vm.Name]
		if !ok {
			return nil, fmt.Errorf("volumeMounts[%d]: volume %q is not prepared on this node", i, vm.Name)
		}
		path := src.HostPath
		if vm.SubPath != "" {
			if filepath.IsAbs(vm.SubPath) || strings.Contains(vm.SubPath, "..") {
				return nil, fmt.Errorf("volumeMounts[%d].subPath %q must be a relative path without '..'", i, vm.SubPath)
			}
			path = filepath.Join(path, vm.SubPath)
		}
		out = append(out, container.Mount{Type: "bind", Source: path, Target: vm.MountPath, ReadOnly: vm.ReadOnly || src.ReadOnly})
	}
	return out, nil
}
