package docker

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/docker/docker/api/types"

	"github.com/drover-ci/drover/cluster/container"
)

// Stats takes one sample from the engine's stats API without priming a second one
// (stream=false, one-shot=true): cumulative CPU time and the memory working set as the kubelet
// (cAdvisor) computes it, usage minus the inactive file cache ("total_inactive_file" under
// cgroup v1, "inactive_file" under v2).
func (r *Runtime) Stats(ctx context.Context, id string) (container.Stats, error) {
	resp, err := r.cli.ContainerStatsOneShot(ctx, id)
	if err != nil {
		return container.Stats{}, wrap(err, "stats", id)
	}
	defer resp.Body.Close()
	var s types.StatsJSON
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return container.Stats{}, fmt.Errorf("docker: stats %s: decoding: %w", id, err)
	}
	// A container that is not running answers with a zero read time and no numbers.
	if s.Read.IsZero() || (s.CPUStats.CPUUsage.TotalUsage == 0 && s.MemoryStats.Usage == 0) {
		return container.Stats{}, fmt.Errorf("docker: stats %s: %w", id, container.ErrNotRunning)
	}
	return container.Stats{
		Time:                  s.Read,
		CPUUsageNanoSeconds:   s.CPUStats.CPUUsage.TotalUsage,
		MemoryUsageBytes:      s.MemoryStats.Usage,
		MemoryWorkingSetBytes: workingSet(s.MemoryStats),
	}, nil
}

// workingSet is usage minus inactive_file, as cAdvisor's setMemoryStats computes it.
func workingSet(m types.MemoryStats) uint64 {
	inactive, ok := m.Stats["total_inactive_file"]
	if !ok {
		inactive = m.Stats["inactive_file"]
	}
	if inactive >= m.Usage {
		return 0
	}
	return m.Usage - inactive
}
