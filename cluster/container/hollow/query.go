package hollow

import (
	"context"
	"fmt"
	"sort"

	"github.com/drover-ci/drover/cluster/container"
)

// List returns the containers carrying every label in match, oldest first.
func (r *Runtime) List(ctx context.Context, match map[string]string) ([]container.Container, error) {
	r.mu.Lock()
	out := make([]container.Container, 0, len(r.byID))
	for _, c := range r.byID {
		if hasLabels(c.labels, match) {
			out = append(out, r.snapshot(c))
		}
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

func hasLabels(labels, match map[string]string) bool {
	for k, v := range match {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Inspect returns a container's current state (by ID, name or unique ID prefix).
func (r *Runtime) Inspect(ctx context.Context, id string) (container.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.lookup(id)
	if err != nil {
		return container.Container{}, fmt.Errorf("inspect: %w", err)
	}
	return r.snapshot(c), nil
}
