package job

import (
	"slices"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// dedupeIndexes keeps one active pod per index still to do (neither succeeded nor failed); the
// others are victims.
func dedupeIndexes(job *batchv1.Job, s podSet) (keep, victims []*corev1.Pod) {
	done := succeededIndexes(s)
	for i := range s.failedIndexes {
		done[i] = true
	}
	seen := map[int]bool{}
	for _, p := range s.active {
		i := podIndex(p)
		if i < 0 || i >= int(*job.Spec.Completions) || done[i] || seen[i] {
			victims = append(victims, p)
			continue
		}
		seen[i] = true
		keep = append(keep, p)
	}
	return keep, victims
}

// pendingIndexes are the lowest n indexes neither succeeded, failed nor running (nor
// terminating, when only failed pods are replaced).
func pendingIndexes(job *batchv1.Job, s podSet, n int) []int {
	busy := succeededIndexes(s)
	for i := range s.failedIndexes {
		busy[i] = true
	}
	for _, p := range s.active {
		busy[podIndex(p)] = true
	}
	if onlyReplaceFailed(job) {
		for _, p := range s.terminating {
			busy[podIndex(p)] = true
		}
	}
	var out []int
	for i := 0; i < int(*job.Spec.Completions) && len(out) < n; i++ {
		if !busy[i] {
			out = append(out, i)
		}
	}
	return out
}

func succeededIndexes(s podSet) map[int]bool {
	done := map[int]bool{}
	for _, p := range s.succeeded {
		if i := podIndex(p); i >= 0 {
			done[i] = true
		}
	}
	return done
}

// succeededCount counts succeeded pods, or distinct succeeded indexes of an Indexed job.
func succeededCount(job *batchv1.Job, s podSet) int32 {
	if !indexed(job) {
		return int32(len(s.succeeded))
	}
	done := succeededIndexes(s)
	idx := make([]int, 0, len(done))
	for i := range done {
		if i < int(*job.Spec.Completions) {
			idx = append(idx, i)
		}
	}
	slices.Sort(idx)
	job.Status.CompletedIndexes = formatIndexes(idx)
	return int32(len(idx))
}

// formatIndexes writes sorted indexes as Kubernetes' completedIndexes ("1,3-5").
func formatIndexes(idx []int) string {
	var b strings.Builder
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(idx[i]))
		if j > i {
			b.WriteString("-" + strconv.Itoa(idx[j]))
		}
		i = j + 1
	}
	return b.String()
}
