package docker

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	dc "github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/strslice"
	"github.com/docker/go-connections/nat"

	"github.com/drover-ci/drover/cluster/container"
)

// Create creates a container from spec. For a container joining another's network namespace
// (NetworkMode "container:ID") Hostname, DNS settings, ExtraHosts and PortBindings are
// ignored: they belong to the namespace's owner, and the engine refuses them.
func (r *Runtime) Create(ctx context.Context, spec container.Spec) (string, error) {
	cfg, hc, nc, err := configs(spec)
	if err != nil {
		return "", fmt.Errorf("docker: create %s: %w", spec.Name, err)
	}
	resp, err := r.cli.ContainerCreate(ctx, cfg, hc, nc, nil, spec.Name)
	if err != nil {
		if strings.Contains(strings.ToLower(err.Error()), "no such image") {
			return "", fmt.Errorf("docker: create %s: %w (%w)", spec.Name, container.ErrImageNotFound, err)
		}
		return "", fmt.Errorf("docker: create %s: %w", spec.Name, err)
	}
	return resp.ID, nil
}

func configs(spec container.Spec) (*dc.Config, *dc.HostConfig, *network.NetworkingConfig, error) {
	joins := strings.HasPrefix(spec.NetworkMode, "container:")
	cfg := &dc.Config{
		Image:      spec.Image,
		Env:        spec.Env,
		WorkingDir: spec.WorkingDir,
		Labels:     spec.Labels,
		User:       spec.User,
		StopSignal: spec.StopSignal,
		OpenStdin:  spec.Stdin,
		StdinOnce:  spec.StdinOnce,
		Tty:        spec.TTY,
	}
	if spec.Entrypoint != nil {
		cfg.Entrypoint = strslice.StrSlice(spec.Entrypoint)
	}
	if spec.Cmd != nil {
		cfg.Cmd = strslice.StrSlice(spec.Cmd)
	}
	hc := &dc.HostConfig{
		NetworkMode: dc.NetworkMode(spec.NetworkMode),
		Runtime:     spec.RuntimeHandler,
		Privileged:  spec.Privileged,
		Resources: dc.Resources{
			Memory:    spec.MemoryLimit,
			NanoCPUs:  spec.NanoCPUs,
			CPUShares: spec.CPUShares,
		},
	}
	hc.GroupAdd, hc.CapAdd, hc.CapDrop = spec.GroupAdd, spec.CapAdd, spec.CapDrop
	hc.PidMode = dc.PidMode(spec.PidMode)
	hc.ReadonlyRootfs = spec.ReadonlyRootfs
	if spec.NoNewPrivileges {
		hc.SecurityOpt = append(hc.SecurityOpt, "no-new-privileges")
	}
	if spec.SeccompUnconfined {
		hc.SecurityOpt = append(hc.SecurityOpt, "seccomp=unconfined")
	}
	if len(spec.Sysctls) > 0 {
		hc.Sysctls = spec.Sysctls
	}
	if spec.PidsLimit > 0 {
		hc.Resources.PidsLimit = &spec.PidsLimit
	}
	mounts, err := mounts(spec.Mounts)
	if err != nil {
		return nil, nil, nil, err
	}
	hc.Mounts = mounts
	if !joins {
		cfg.Hostname = spec.Hostname
		hc.DNS, hc.DNSSearch, hc.DNSOptions, hc.ExtraHosts = spec.DNS, spec.DNSSearch, spec.DNSOptions, spec.ExtraHosts
		cfg.ExposedPorts, hc.PortBindings, err = ports(spec.PortBindings)
		if err != nil {
			return nil, nil, nil, err
		}
	}
	var nc *network.NetworkingConfig
	if spec.IP != "" {
		if !userNetwork(spec.NetworkMode) {
			return nil, nil, nil, fmt.Errorf("a fixed IP needs a user-defined network, not %q", spec.NetworkMode)
		}
		nc = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			spec.NetworkMode: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: spec.IP}},
		}}
	}
	return cfg, hc, nc, nil
}

func userNetwork(mode string) bool {
	switch mode {
	case "", "default", "bridge", "host", "none":
		return false
	}
	return !strings.HasPrefix(mode, "container:")
}

func ports(bs []container.PortBinding) (nat.PortSet, nat.PortMap, error) {
	if len(bs) == 0 {
		return nil, nil, nil
	}
	set, pm := nat.PortSet{}, nat.PortMap{}
	for _, b := range bs {
		proto := strings.ToLower(b.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		p, err := nat.NewPort(proto, strconv.Itoa(b.ContainerPort))
		if err != nil {
			return nil, nil, fmt.Errorf("port %d/%s: %w", b.ContainerPort, proto, err)
		}
		set[p] = struct{}{}
		hp := ""
		if b.HostPort != 0 {
			hp = strconv.Itoa(b.HostPort)
		}
		pm[p] = append(pm[p], nat.PortBinding{HostIP: b.HostIP, HostPort: hp})
	}
	return set, pm, nil
}

func mounts(ms []container.Mount) ([]mount.Mount, error) {
	var out []mount.Mount
	for _, m := range ms {
		dm := mount.Mount{Target: m.Target, ReadOnly: m.ReadOnly}
		switch m.Type {
		case "bind", "":
			dm.Type, dm.Source = mount.TypeBind, m.Source
		case "tmpfs":
			dm.Type = mount.TypeTmpfs
			if m.TmpfsSize > 0 {
				dm.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: m.TmpfsSize}
			}
		default:
			return nil, fmt.Errorf("mount %s: unknown type %q", m.Target, m.Type)
		}
		out = append(out, dm)
	}
	return out, nil
}
