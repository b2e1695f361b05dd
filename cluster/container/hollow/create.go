package hollow

import (
	"context"
	"fmt"
	"strconv"

	"github.com/drover-ci/drover/cluster/container"
)

// Create records a created container. It fails with container.ErrImageNotFound when the
// image is absent, container.ErrNotFound when NetworkMode joins a missing container, and
// with an error when the name is taken or the network does not exist.
func (r *Runtime) Create(ctx context.Context, spec container.Spec) (string, error) {
	now := r.clock.Now()
	script := r.scriptFor(spec)
	r.mu.Lock()
	defer r.mu.Unlock()
	name := spec.Name
	if name == "" {
		r.seq++
		name = "hollow_" + strconv.FormatUint(r.seq, 10)
	}
	if other := r.byName[name]; other != nil {
		return "", fmt.Errorf("create %s: name already in use by container %s", name, other.id)
	}
	if r.images[normalizeImage(spec.Image)] != imagePresent {
		return "", fmt.Errorf("create %s: image %s: %w", name, spec.Image, container.ErrImageNotFound)
	}
	// The hollow engine has Docker's one default runtime, runc, and refuses another as Docker
	// does.
	if h := spec.RuntimeHandler; h != "" && h != "runc" {
		return "", fmt.Errorf("create %s: Error response from daemon: Unknown runtime specified %s", name, h)
	}
	mode, err := r.networkMode(spec.NetworkMode)
	if err != nil {
		return "", fmt.Errorf("create %s: %w", name, err)
	}
	// Joining another container's PID namespace needs that container, as Docker's create does.
	if ref, ok := joinTarget(spec.PidMode); ok {
		if _, err := r.lookup(ref); err != nil {
			return "", fmt.Errorf("create %s: joining PID namespace: %w", name, err)
		}
	} else if spec.PidMode != "" && spec.PidMode != "host" {
		return "", fmt.Errorf("create %s: invalid PID mode %q", name, spec.PidMode)
	}
	c := &ctr{
		id: newID(), name: name, image: spec.Image, labels: cloneLabels(spec.Labels),
		netMode: mode, reqIP: spec.IP, script: script, state: container.StateCreated,
		created: now, unhealthy: script.HTTPUnhealthy,
	}
	r.byID[c.id] = c
	r.byName[name] = c
	r.version++
	return c.id, nil
}

// networkMode validates a Spec's NetworkMode and resolves "container:REF" to the full ID.
// Caller holds r.mu.
func (r *Runtime) networkMode(mode string) (string, error) {
	switch mode {
	case "", "default":
		return "bridge", nil
	case "host", "none":
		return mode, nil
	}
	if ref, ok := joinTarget(mode); ok {
		t, err := r.lookup(ref)
		if err != nil {
			return "", fmt.Errorf("joining network namespace: %w", err)
		}
		return "container:" + t.id, nil
	}
	if r.networks[mode] == nil {
		return "", fmt.Errorf("network %s not found", mode)
	}
	return mode, nil
}
