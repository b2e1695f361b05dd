package nodeagent

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	"github.com/drover-ci/drover/cluster/container"
)

// relist lists this node's containers every cfg.Relist and queues every pod whose containers
// changed state (the kubelet's PLEG).
func (a *Agent) relist(ctx context.Context) {
	t := a.cfg.Clock.NewTicker(a.cfg.Relist)
	defer t.Stop()
	seen := map[types.UID]string{} // container fingerprint per pod
	// A runtime that says when its containers change (hollow) is listed only after a change.
	vr, versioned := a.cfg.Runtime.(container.Versioned)
	var listedAt uint64
	listed := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		var ver uint64
		if versioned {
			if ver = vr.Version(); listed && ver == listedAt {
				continue
			}
		}
		cs, err := a.listContainers(ctx, nil)
		if err != nil {
			a.log.Warn("relist containers", "err", err)
			continue
		}
		listedAt, listed = ver, true
		for _, uid := range changedPods(seen, cs) {
			a.queue.Add(uid)
		}
	}
}

// changedPods returns the pods whose container fingerprint differs from the one in seen (or
// that have no containers any more), and updates seen.
func changedPods(seen map[types.UID]string, cs []container.Container) []types.UID {
	now := map[types.UID][]string{}
	for _, c := range cs {
		uid := podUIDOf(c)
		now[uid] = append(now[uid], fmt.Sprintf("%s:%s:%d", c.ID, c.State, c.ExitCode))
	}
	var changed []types.UID
	for uid, parts := range now {
		sort.Strings(parts)
		fp := strings.Join(parts, ",")
		if seen[uid] != fp {
			seen[uid] = fp
			changed = append(changed, uid)
		}
	}
	for uid := range seen {
		if _, ok := now[uid]; !ok {
			delete(seen, uid)
			changed = append(changed, uid)
		}
	}
	return changed
}

// adopt runs once after the pod cache synced: containers and volume directories of pods that
// no longer exist are queued for removal; running containers of existing pods are simply
// used by their pod's next sync (labels carry the restart counts), so none is duplicated.
func (a *Agent) adopt(ctx context.Context) {
	cs, err := a.listContainers(ctx, nil)
	if err != nil {
		a.log.Warn("adopt: list containers", "err", err)
		return
	}
	seen := map[types.UID]bool{}
	for _, c := range cs {
		seen[podUIDOf(c)] = true
	}
	if a.cfg.Volumes != nil {
		if uids, err := a.cfg.Volumes.PodUIDs(); err == nil {
			for _, uid := range uids {
				seen[uid] = true
			}
		}
	}
	adopted := 0
	for uid := range seen {
		if a.pod(uid) != nil {
			adopted++
		}
		a.queue.Add(uid)
	}
	if len(seen) > 0 {
		a.log.Info("adopting containers", "pods", adopted, "orphans", len(seen)-adopted, "containers", len(cs))
	}
}
