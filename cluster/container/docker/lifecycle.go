package docker

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/docker/docker/api/types"
	dc "github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/drover-ci/drover/cluster/container"
)

// Start starts a created or exited container.
func (r *Runtime) Start(ctx context.Context, id string) error {
	defer r.cache.drop(id)
	return wrap(r.cli.ContainerStart(ctx, id, dc.StartOptions{}), "start", id)
}

// Stop sends the container's stop signal (SIGTERM unless its Spec named another), waits up
// to grace (rounded up to whole seconds, the engine's unit) and then kills it. Stopping an
// exited container succeeds.
func (r *Runtime) Stop(ctx context.Context, id string, grace time.Duration) error {
	defer r.cache.drop(id)
	secs := int(math.Ceil(grace.Seconds()))
	if secs < 0 {
		secs = 0
	}
	return wrap(r.cli.ContainerStop(ctx, id, dc.StopOptions{Timeout: &secs}), "stop", id)
}

// Remove removes a container, running or not, with its anonymous volumes.
func (r *Runtime) Remove(ctx context.Context, id string) error {
	defer r.cache.drop(id)
	err := r.cli.ContainerRemove(ctx, id, dc.RemoveOptions{Force: true, RemoveVolumes: true})
	return wrap(err, "remove", id)
}

// List returns the containers, in any state, that carry every label in match, each as
// Inspect describes it (containers that vanish meanwhile are left out).
func (r *Runtime) List(ctx context.Context, match map[string]string) ([]container.Container, error) {
	f := filters.NewArgs()
	for k, v := range match {
		f.Add("label", k+"="+v)
	}
	list, err := r.cli.ContainerList(ctx, dc.ListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("docker: list %v: %w", match, err)
	}
	r.cache.sweep()
	out := make([]container.Container, 0, len(list))
	for _, s := range list {
		if c, ok := r.cache.get(s.ID, s.State); ok {
			out = append(out, c)
			continue
		}
		c, err := r.Inspect(ctx, s.ID)
		if err != nil {
			if isNotFound(err) {
				continue
			}
			return nil, err
		}
		if s.State == "running" {
			// Only running containers are cached: an exited one's details (OOMKilled, exit
			// code) may still be settling in the engine, so they are read afresh each time.
			r.cache.put(s.ID, s.State, c)
		}
		out = append(out, c)
	}
	return out, nil
}

// Inspect returns a container's current state. IP is its address on its network (empty for
// containers that join another's namespace).
func (r *Runtime) Inspect(ctx context.Context, id string) (container.Container, error) {
	j, err := r.cli.ContainerInspect(ctx, id)
	if err != nil {
		return container.Container{}, wrap(err, "inspect", id)
	}
	return r.withOOMEvent(ctx, fromJSON(j)), nil
}

func fromJSON(j types.ContainerJSON) container.Container {
	c := container.Container{
		ID:        j.ID,
		Name:      strings.TrimPrefix(j.Name, "/"),
		ImageID:   j.Image,
		CreatedAt: parseTime(j.Created),
		State:     container.StateUnknown,
	}
	if j.Config != nil {
		c.Image, c.Labels = j.Config.Image, j.Config.Labels
	}
	if s := j.State; s != nil {
		c.State = state(s.Status)
		c.ExitCode, c.OOMKilled, c.Error, c.Pid = s.ExitCode, s.OOMKilled, s.Error, s.Pid
		c.StartedAt, c.FinishedAt = parseTime(s.StartedAt), parseTime(s.FinishedAt)
		if c.State == container.StateRunning {
			c.FinishedAt = time.Time{} // the engine keeps the previous run's end
		}
	}
	if j.NetworkSettings != nil {
		c.IP = ipOf(j)
	}
	return c
}

func ipOf(j types.ContainerJSON) string {
	nets := j.NetworkSettings.Networks
	if j.HostConfig != nil {
		if ep, ok := nets[string(j.HostConfig.NetworkMode)]; ok && ep != nil && ep.IPAddress != "" {
			return ep.IPAddress
		}
	}
	for _, ep := range nets {
		if ep != nil && ep.IPAddress != "" {
			return ep.IPAddress
		}
	}
	return ""
}

func state(s string) container.State {
	switch s {
	case "created":
		return container.StateCreated
	case "running", "paused", "restarting":
		return container.StateRunning
	case "exited", "dead":
		return container.StateExited
	}
	return container.StateUnknown
}

// parseTime parses the engine's RFC 3339 times; its zero ("0001-01-01T00:00:00Z") stays zero.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}
