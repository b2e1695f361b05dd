// Package docker is the container.Runtime over a real Docker Engine, through
// github.com/docker/docker/client with API version negotiation (the Debian engine on these
// machines speaks API 1.41).
package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"

	"github.com/drover-ci/drover/cluster/container"
)

// Runtime runs containers on one Docker Engine.
type Runtime struct {
	cli   *client.Client
	cache inspectCache
	ooms  oomLog // runs the engine's event log says were OOM-killed (oom.go)
	// clusterID marks the networks this runtime creates (ClusterLabel); see SetClusterID.
	clusterID string
}

// SetClusterID makes the networks this runtime creates carry ClusterLabel=id and EnsureNetwork
// refuse a network of the same name that another drover (another id) created. Call it before
// the runtime is used.
func (r *Runtime) SetClusterID(id string) { r.clusterID = id }

var _ container.Runtime = (*Runtime)(nil)

// New connects to the engine the environment names (DOCKER_HOST, DOCKER_API_VERSION,
// DOCKER_CERT_PATH, DOCKER_TLS_VERIFY; default unix:///var/run/docker.sock), negotiates the
// API version and checks that the engine answers.
func New(ctx context.Context) (*Runtime, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker: client: %w", err)
	}
	if _, err := cli.Ping(ctx); err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker: engine at %s does not answer: %w", cli.DaemonHost(), err)
	}
	cli.NegotiateAPIVersion(ctx)
	return &Runtime{cli: cli}, nil
}

// NewWithClient wraps an existing client.
func NewWithClient(cli *client.Client) *Runtime { return &Runtime{cli: cli} }

// Client returns the underlying Docker client (for the benchmark and image helpers).
func (r *Runtime) Client() *client.Client { return r.cli }

// Close releases the client's connections.
func (r *Runtime) Close() error { return r.cli.Close() }

// Info describes the engine and its host.
func (r *Runtime) Info(ctx context.Context) (container.Info, error) {
	info, err := r.cli.Info(ctx)
	if err != nil {
		return container.Info{}, fmt.Errorf("docker: info: %w", err)
	}
	return container.Info{
		EngineVersion:   info.ServerVersion,
		OS:              info.OperatingSystem,
		KernelVersion:   info.KernelVersion,
		Architecture:    info.Architecture,
		CPUs:            info.NCPU,
		MemoryBytes:     info.MemTotal,
		Hostname:        info.Name,
		RuntimeName:     "docker",
		CgroupDriver:    info.CgroupDriver,
		OperatingSystem: info.OSType,
	}, nil
}

// wrap adds what was done to an engine error and maps "no such container" to
// container.ErrNotFound.
func wrap(err error, op, id string) error {
	if err == nil {
		return nil
	}
	if errdefs.IsNotFound(err) || strings.Contains(err.Error(), "No such container") {
		return fmt.Errorf("docker: %s %s: %w (%w)", op, id, container.ErrNotFound, err)
	}
	return fmt.Errorf("docker: %s %s: %w", op, id, err)
}

// imageErr maps an engine error about image to container.ErrImageNotFound when the image is
// missing (locally, or in the registry for a pull).
func imageErr(err error, op, image string) error {
	if err == nil {
		return nil
	}
	if isImageMissing(err) {
		return fmt.Errorf("docker: %s %s: %w (%w)", op, image, container.ErrImageNotFound, err)
	}
	return fmt.Errorf("docker: %s %s: %w", op, image, err)
}

func isImageMissing(err error) bool {
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"no such image", "manifest unknown", "not found", "pull access denied", "repository does not exist"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return errors.Is(err, container.ErrImageNotFound)
}
