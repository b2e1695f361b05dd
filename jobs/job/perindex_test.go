package job

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// perIndexJob is an Indexed job of completions pods at once with backoffLimitPerIndex limit.
func perIndexJob(completions, limit int32) *batchv1.Job {
	job := newJob("j", completions, completions)
	job.Spec.CompletionMode = ptr(batchv1.IndexedCompletion)
	job.Spec.BackoffLimitPerIndex = ptr(limit)
	job.Spec.BackoffLimit = ptr(int32(1 << 30))
	return job
}

// indexPod is a pod of index i of job, in phase, finished at finished (failed: exit code 1).
func indexPod(job *batchv1.Job, name string, i int, phase corev1.PodPhase, finished time.Time) *corev1.Pod {
	p := podForJob(job, i)
	q := podOf(job, name, phase, finished)
	p.Name, p.UID, p.GenerateName, p.CreationTimestamp, p.Status = name, types.UID(name), "", q.CreationTimestamp, q.Status
	if phase == corev1.PodFailed {
		p.Status.ContainerStatuses[0].State.Terminated.ExitCode = 1
	}
	return p
}

func createdIndexes(pods []*corev1.Pod) map[string]string {
	out := map[string]string{}
	for _, p := range pods {
		out[p.Annotations[batchv1.JobCompletionIndexAnnotation]] = p.Annotations[batchv1.JobIndexFailureCountAnnotation]
	}
	return out
}

// TestBackoffLimitPerIndex: an index fails once its failures exceed backoffLimitPerIndex and
// is not retried; the others are, each new pod carrying its index's failure count; once every
// index has succeeded or failed, the job fails with FailedIndexes.
func TestBackoffLimitPerIndex(t *testing.T) {
	job := perIndexJob(3, 1)
	old := t0.Add(-time.Hour)
	pods := []*corev1.Pod{
		indexPod(job, "a0", 0, corev1.PodFailed, old), indexPod(job, "b0", 0, corev1.PodFailed, old),
		indexPod(job, "a1", 1, corev1.PodFailed, old),
		indexPod(job, "a2", 2, corev1.PodSucceeded, old),
	}
	f := newFixture(t, job, pods[0], pods[1], pods[2], pods[3])
	acts := f.sync("j")
	st := statusOf(acts)
	if st == nil || st.FailedIndexes == nil || *st.FailedIndexes != "0" || st.Failed != 3 || st.CompletedIndexes != "2" {
		t.Fatalf("status = %+v, want failedIndexes 0, failed 3, completedIndexes 2", st)
	}
	if c := cond(st, batchv1.JobFailed); c != nil {
		t.Fatalf("failed with index 1 still to retry: %+v", c)
	}
	if d := cmp.Diff(map[string]string{"1": "1"}, createdIndexes(created(acts))); d != "" {
		t.Errorf("created index: failure count (-want +got):\n%s", d)
	}

	// Index 1 fails a second time: every index is done, one failed or more: FailedIndexes.
	job.Status = *st
	f = newFixture(t, job, pods[0], pods[1], pods[2], pods[3], indexPod(job, "b1", 1, corev1.PodFailed, old))
	st = statusOf(f.sync("j"))
	c := cond(st, batchv1.JobFailed)
	if c == nil || c.Reason != batchv1.JobReasonFailedIndexes || c.Message != "Job has failed indexes" || *st.FailedIndexes != "0-1" {
		t.Errorf("condition %+v, failedIndexes %q: want Failed FailedIndexes and 0-1", c, *st.FailedIndexes)
	}
}

// TestMaxFailedIndexes: more failed indexes than maxFailedIndexes fail the job at once, its
// running pods deleted.
func TestMaxFailedIndexes(t *testing.T) {
	job := perIndexJob(3, 0)
	job.Spec.MaxFailedIndexes = ptr(int32(0))
	f := newFixture(t, job, indexPod(job, "a0", 0, corev1.PodFailed, t0), indexPod(job, "a1", 1, corev1.PodRunning, t0),
		indexPod(job, "a2", 2, corev1.PodRunning, t0))
	acts := f.sync("j")
	c := failing(t, statusOf(acts))
	if c == nil || c.Reason != batchv1.JobReasonMaxFailedIndexesExceeded || c.Message != "Job has exceeded the specified maximal number of failed indexes" {
		t.Fatalf("condition = %+v, want FailureTarget MaxFailedIndexesExceeded", c)
	}
	if d := cmp.Diff([]string{"a1", "a2"}, deleted(acts, "pods"), sortStrings()); d != "" {
		t.Errorf("deleted (-want +got):\n%s", d)
	}
}

// TestFailIndexAndIgnorePerIndex: a failure a FailIndex rule matches fails its index at once,
// far below backoffLimitPerIndex; an ignored one does not count for its index (the new pod's
// failure count stays 0, the ignored count is annotated).
func TestFailIndexAndIgnorePerIndex(t *testing.T) {
	job := perIndexJob(2, 5)
	job.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
		exitRule(batchv1.PodFailurePolicyActionFailIndex, batchv1.PodFailurePolicyOnExitCodesOpIn, 42),
		exitRule(batchv1.PodFailurePolicyActionIgnore, batchv1.PodFailurePolicyOnExitCodesOpIn, 1),
	}}
	job.Spec.PodReplacementPolicy = ptr(batchv1.Failed)
	old := t0.Add(-time.Hour)
	p0 := indexPod(job, "a0", 0, corev1.PodFailed, old)
	p0.Status.ContainerStatuses[0].State.Terminated.ExitCode = 42
	p1 := indexPod(job, "a1", 1, corev1.PodFailed, old) // exit code 1: ignored
	f := newFixture(t, job, p0, p1)
	acts := f.sync("j")
	st := statusOf(acts)
	if st == nil || *st.FailedIndexes != "0" || st.Failed != 1 {
		t.Fatalf("status = %+v, want failedIndexes 0 and 1 failure counted", st)
	}
	pods := created(acts)
	if len(pods) != 1 || pods[0].Annotations[batchv1.JobCompletionIndexAnnotation] != "1" ||
		pods[0].Annotations[batchv1.JobIndexFailureCountAnnotation] != "0" ||
		pods[0].Annotations[batchv1.JobIndexIgnoredFailureCountAnnotation] != "1" {
		var got []map[string]string
		for _, p := range pods {
			got = append(got, p.Annotations)
		}
		t.Errorf("created %v, want index 1 with failure count 0 and ignored count 1", got)
	}
}

// TestBackoffPerIndex: an index waits out the back-off of its own failures; an index without
// failures starts at once; the job comes back when the wait is over.
func TestBackoffPerIndex(t *testing.T) {
	job := perIndexJob(2, 3)
	f := newFixture(t, job, indexPod(job, "a1", 1, corev1.PodFailed, t0))
	f.Clock.SetTime(t0.Add(5 * time.Second))
	if d := cmp.Diff(map[string]string{"0": "0"}, createdIndexes(created(f.sync("j")))); d != "" {
		t.Errorf("within index 1's back-off, created (-want +got):\n%s", d)
	}
	f = newFixture(t, job, indexPod(job, "a1", 1, corev1.PodFailed, t0), indexPod(job, "a0", 0, corev1.PodRunning, t0))
	f.Clock.SetTime(t0.Add(10 * time.Second))
	if d := cmp.Diff(map[string]string{"1": "1"}, createdIndexes(created(f.sync("j")))); d != "" {
		t.Errorf("after index 1's back-off, created (-want +got):\n%s", d)
	}
}

// TestParseIndexes reads formatIndexes' notation back.
func TestParseIndexes(t *testing.T) {
	got := parseIndexes("0,2-4,7,9-12", 11)
	if d := cmp.Diff([]int{0, 2, 3, 4, 7, 9, 10}, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if s := formatIndexes(got); s != "0,2-4,7,9-10" {
		t.Errorf("formatIndexes = %q", s)
	}
}

func sortStrings() cmp.Option {
	return cmpopts.SortSlices(func(a, b string) bool { return a < b })
}
