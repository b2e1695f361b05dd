package scheduler

import (
	"hash/fnv"
)

// Score weights, as in Kubernetes' default profile (NodeResourcesFit 1, spreading 2).
const (
	maxNodeScore         = 100
	leastRequestedWeight = 1
	spreadWeight         = 2
)

// pick scores the feasible nodes and returns the best one. Ties are broken by a pseudo-random
// choice seeded from the pod's identity: deterministic for a pod, spread out over pods.
func (st *podState) pick(feasible []*NodeInfo) string {
	maxOwned := 0
	if st.owner != "" {
		for _, ni := range feasible {
			maxOwned = max(maxOwned, ni.owners[st.owner])
		}
	}
	rng := newTieBreaker(st.pod.Namespace + "/" + st.pod.Name + "/" + string(st.pod.UID))
	var best *NodeInfo
	bestScore, ties := int64(-1), uint64(0)
	for _, ni := range feasible {
		score := leastRequestedWeight*st.leastRequested(ni) + spreadWeight*st.spread(ni, maxOwned)
		switch {
		case score > bestScore:
			best, bestScore, ties = ni, score, 1
		case score == bestScore:
			ties++
			if rng.next()%ties == 0 {
				best = ni
			}
		}
	}
	return best.Node.Name
}

// leastRequested favours nodes with more free cpu and memory after the pod is placed
// (Kubernetes' LeastAllocated: mean over cpu and memory of free*100/allocatable).
func (st *podState) leastRequested(ni *NodeInfo) int64 {
	return (free(ni.AllocCPU, ni.nzCPU+st.nz.cpu) + free(ni.AllocMem, ni.nzMem+st.nz.mem)) / 2
}

func free(capacity, requested int64) int64 {
	if capacity <= 0 || requested > capacity {
		return 0
	}
	return (capacity - requested) * maxNodeScore / capacity
}

// spread favours nodes running fewer pods of the pod's controller (Kubernetes' former
// SelectorSpread, by controller instead of by selector).
func (st *podState) spread(ni *NodeInfo, maxOwned int) int64 {
	if maxOwned == 0 {
		return maxNodeScore
	}
	return int64(maxNodeScore * (maxOwned - ni.owners[st.owner]) / maxOwned)
}

// tieBreaker is a splitmix64 sequence.
type tieBreaker struct{ state uint64 }

func newTieBreaker(seed string) *tieBreaker {
	h := fnv.New64a()
	_, _ = h.Write([]byte(seed))
	return &tieBreaker{state: h.Sum64()}
}

func (t *tieBreaker) next() uint64 {
	t.state += 0x9e3779b97f4a7c15
	z := t.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
