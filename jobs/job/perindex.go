package job

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// perIndex reports whether an Indexed job limits failures per index (backoffLimitPerIndex).
func perIndex(job *batchv1.Job) bool { return indexed(job) && job.Spec.BackoffLimitPerIndex != nil }

// indexFailures are an index's failed pods: those counting towards backoffLimitPerIndex and
// those an Ignore rule matched, and the last time one of them finished.
type indexFailures struct {
	counted, ignored int
	last             time.Time
}

// failuresByIndex tallies the failed pods of a job's valid indexes.
func failuresByIndex(job *batchv1.Job, s podSet) map[int]*indexFailures {
	out := map[int]*indexFailures{}
	for _, p := range s.failed {
		i := podIndex(p)
		if i < 0 || i >= int(*job.Spec.Completions) {
			continue
		}
		f := out[i]
		if f == nil {
			f = &indexFailures{}
			out[i] = f
		}
		if matchPolicy(job.Spec.PodFailurePolicy, p).counts() {
			f.counted++
		} else {
			f.ignored++
		}
		if t := finishTime(p); t.After(f.last) {
			f.last = t
		}
	}
	return out
}

// failedIndexes are the indexes of a job with backoffLimitPerIndex that failed, as Kubernetes'
// calculateFailedIndexes finds them: those already in status.failedIndexes, those with more
// counted failures than backoffLimitPerIndex, and those a FailIndex rule matched a failure of.
// Nil without backoffLimitPerIndex.
func failedIndexes(job *batchv1.Job, s podSet) map[int]bool {
	if !perIndex(job) {
		return nil
	}
	out := map[int]bool{}
	if job.Status.FailedIndexes != nil {
		for _, i := range parseIndexes(*job.Status.FailedIndexes, int(*job.Spec.Completions)) {
			out[i] = true
		}
	}
	for i, f := range failuresByIndex(job, s) {
		if f.counted > int(*job.Spec.BackoffLimitPerIndex) {
			out[i] = true
		}
	}
	for _, p := range s.failed {
		i := podIndex(p)
		if i >= 0 && i < int(*job.Spec.Completions) &&
			matchPolicy(job.Spec.PodFailurePolicy, p).action == batchv1.PodFailurePolicyActionFailIndex {
			out[i] = true
		}
	}
	return out
}

// perIndexFailure is the reason a job with backoffLimitPerIndex fails now, if it does: more
// failed indexes than maxFailedIndexes, or every index finished with some failed.
func perIndexFailure(job *batchv1.Job, failed map[int]bool) (reason, msg string) {
	if !perIndex(job) || len(failed) == 0 {
		return "", ""
	}
	if m := job.Spec.MaxFailedIndexes; m != nil && len(failed) > int(*m) {
		return batchv1.JobReasonMaxFailedIndexesExceeded, "Job has exceeded the specified maximal number of failed indexes"
	}
	if int(job.Status.Succeeded)+len(failed) >= int(*job.Spec.Completions) {
		return batchv1.JobReasonFailedIndexes, "Job has failed indexes"
	}
	return "", ""
}

// readyIndexes keeps, of the candidate indexes, those whose back-off after their last failure
// (doubling from PodFailureBackOff per failure of the index, as Kubernetes does per index) is
// over; wait is the shortest back-off still running (0: none).
func readyIndexes(job *batchv1.Job, s podSet, candidates []int, now time.Time) (ready []int, wait time.Duration) {
	byIndex := failuresByIndex(job, s)
	for _, i := range candidates {
		f := byIndex[i]
		if f == nil {
			ready = append(ready, i)
			continue
		}
		left := f.last.Add(backoffDelay(f.counted + f.ignored)).Sub(now)
		if left <= 0 {
			ready = append(ready, i)
		} else if wait == 0 || left < wait {
			wait = left
		}
	}
	return ready, wait
}

// annotateFailures writes on a new pod of a job with backoffLimitPerIndex its index's failures
// so far, as Kubernetes does (batch.kubernetes.io/job-index-failure-count, and the
// ignored-failure count when there are any).
func annotateFailures(pod *corev1.Pod, f *indexFailures) {
	counted, ignored := 0, 0
	if f != nil {
		counted, ignored = f.counted, f.ignored
	}
	pod.Annotations[batchv1.JobIndexFailureCountAnnotation] = strconv.Itoa(counted)
	if ignored > 0 {
		pod.Annotations[batchv1.JobIndexIgnoredFailureCountAnnotation] = strconv.Itoa(ignored)
	}
}

// parseIndexes reads Kubernetes' interval notation ("1,3-5") back, keeping indexes below
// completions.
func parseIndexes(s string, completions int) []int {
	var out []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		last := first
		if isRange {
			if last, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		for i := first; i <= last && i < completions; i++ {
			if i >= 0 {
				out = append(out, i)
			}
		}
	}
	return out
}

// sortedIndexes is the set's indexes in order.
func sortedIndexes(set map[int]bool) []int {
	return slices.Sorted(maps.Keys(set))
}
