package job

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestParallelismAndCompletions(t *testing.T) {
	job := newJob("j", 3, 2)
	f := newFixture(t, job)
	acts := f.sync("j")
	pods := created(acts)
	if len(pods) != 2 {
		t.Fatalf("created %d pods, want 2 (parallelism)", len(pods))
	}
	for _, p := range pods {
		if ref := metav1.GetControllerOf(p); ref == nil || ref.UID != job.UID || ref.Kind != "Job" {
			t.Errorf("pod %s controller = %+v", p.Name, ref)
		}
		if p.GenerateName != "j-" {
			t.Errorf("generateName = %q", p.GenerateName)
		}
	}
	st := statusOf(acts)
	if st == nil || st.Active != 2 || st.StartTime == nil || !st.StartTime.Time.Equal(t0) {
		t.Fatalf("status = %+v, want active 2 and startTime t0", st)
	}
	// The cache has not seen the pods yet: expectations hold the next sync back.
	if n := len(created(f.sync("j"))); n != 0 {
		t.Errorf("lagging cache: created %d more pods, want 0", n)
	}

	// Two succeeded, one running: one completion is left, so no new pod beyond the one running.
	f = newFixture(t, job, podOf(job, "a", corev1.PodSucceeded, t0), podOf(job, "b", corev1.PodSucceeded, t0),
		podOf(job, "c", corev1.PodRunning, t0))
	acts = f.sync("j")
	if n := len(created(acts)); n != 0 {
		t.Errorf("created %d pods with 1 completion left and 1 running, want 0", n)
	}
	if st := statusOf(acts); st == nil || st.Succeeded != 2 || st.Active != 1 {
		t.Errorf("status = %+v, want succeeded 2 active 1", st)
	}

	f = newFixture(t, job, podOf(job, "a", corev1.PodSucceeded, t0), podOf(job, "b", corev1.PodSucceeded, t0),
		podOf(job, "c", corev1.PodSucceeded, t0))
	acts = f.sync("j")
	st = statusOf(acts)
	c := cond(st, batchv1.JobComplete)
	if c == nil || c.Status != corev1.ConditionTrue || c.Reason != batchv1.JobReasonCompletionsReached {
		t.Fatalf("complete condition = %+v", c)
	}
	if st.Succeeded != 3 || st.Active != 0 || st.CompletionTime == nil {
		t.Errorf("status = %+v", st)
	}
	if n := len(deleted(acts, "pods")); n != 0 {
		t.Errorf("deleted %d finished pods, want them kept", n)
	}
}

func TestParallelismDecreaseDeletesExtra(t *testing.T) {
	job := newJob("j", 10, 1)
	f := newFixture(t, job, podOf(job, "a", corev1.PodRunning, t0), podOf(job, "b", corev1.PodRunning, t0))
	if got := deleted(f.sync("j"), "pods"); len(got) != 1 {
		t.Errorf("deleted %v, want one pod", got)
	}
}

func TestBackoffDelay(t *testing.T) {
	want := map[int]time.Duration{0: 0, 1: 10 * time.Second, 2: 20 * time.Second, 3: 40 * time.Second,
		6: 320 * time.Second, 7: 6 * time.Minute, 20: 6 * time.Minute}
	for n, d := range want {
		if got := backoffDelay(n); got != d {
			t.Errorf("backoffDelay(%d) = %v, want %v", n, got, d)
		}
	}
}

func TestBackoffBetweenFailures(t *testing.T) {
	job := newJob("j", 1, 1)
	// Two failures since the last success, the latest at t0: wait 20 s from t0.
	objs := []*corev1.Pod{podOf(job, "ok", corev1.PodSucceeded, t0.Add(-time.Hour)),
		podOf(job, "f1", corev1.PodFailed, t0.Add(-time.Minute)), podOf(job, "f2", corev1.PodFailed, t0)}
	job.Spec.Completions = ptr(int32(2))
	f := newFixture(t, job, objs[0], objs[1], objs[2])
	f.Clock.SetTime(t0.Add(19 * time.Second))
	acts := f.sync("j")
	if n := len(created(acts)); n != 0 {
		t.Fatalf("created %d pods within the back-off, want 0", n)
	}
	if st := statusOf(acts); st == nil || st.Failed != 2 || st.Succeeded != 1 {
		t.Errorf("status = %+v, want failed 2 succeeded 1", st)
	}
	f.Clock.SetTime(t0.Add(20 * time.Second))
	if n := len(created(f.sync("j"))); n != 1 {
		t.Errorf("created %d pods after the back-off, want 1", n)
	}
}

func TestBackoffLimitExceeded(t *testing.T) {
	job := newJob("j", 5, 1)
	job.Spec.BackoffLimit = ptr(int32(1))
	f := newFixture(t, job, podOf(job, "f1", corev1.PodFailed, t0), podOf(job, "f2", corev1.PodFailed, t0),
		podOf(job, "run", corev1.PodRunning, t0))
	acts := f.sync("j")
	st := statusOf(acts)
	c := failing(t, st)
	if c == nil || c.Reason != batchv1.JobReasonBackoffLimitExceeded || c.Message != "Job has reached the specified backoff limit" {
		t.Fatalf("FailureTarget condition = %+v", c)
	}
	if diff := cmp.Diff([]string{"run"}, deleted(acts, "pods")); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	if n := len(created(acts)); n != 0 {
		t.Errorf("created %d pods after failing", n)
	}
	// Once the stopped pod is gone, Failed follows with the same reason.
	failedJob := job.DeepCopy()
	failedJob.Status = *st
	f = newFixture(t, failedJob, podOf(job, "f1", corev1.PodFailed, t0), podOf(job, "f2", corev1.PodFailed, t0))
	acts = f.sync("j")
	if c := cond(statusOf(acts), batchv1.JobFailed); c == nil || c.Reason != batchv1.JobReasonBackoffLimitExceeded {
		t.Fatalf("Failed condition once the pods are gone = %+v", c)
	}
	if n := len(created(acts)); n != 0 {
		t.Errorf("created %d pods after failing", n)
	}
	// At the limit (failed == backoffLimit) the job goes on.
	job2 := newJob("k", 5, 1)
	job2.Spec.BackoffLimit = ptr(int32(2))
	f = newFixture(t, job2, podOf(job2, "f1", corev1.PodFailed, t0.Add(-time.Hour)), podOf(job2, "f2", corev1.PodFailed, t0.Add(-time.Hour)))
	acts = f.sync("k")
	if c := cond(statusOf(acts), batchv1.JobFailed); c != nil {
		t.Errorf("job at its backoff limit failed: %+v", c)
	}
	if len(created(acts)) != 1 {
		t.Errorf("job at its backoff limit made no replacement pod")
	}
}

func TestOnFailureRestartsCount(t *testing.T) {
	job := newJob("j", 1, 1)
	job.Spec.BackoffLimit = ptr(int32(2))
	job.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	p := podOf(job, "run", corev1.PodRunning, t0)
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", RestartCount: 1}}
	f := newFixture(t, job, p)
	if c := cond(statusOf(f.sync("j")), batchv1.JobFailed); c != nil {
		t.Fatalf("failed after 1 restart of 2: %+v", c)
	}
	p = p.DeepCopy()
	p.Status.ContainerStatuses[0].RestartCount = 2
	f = newFixture(t, job, p)
	acts := f.sync("j")
	if c := failing(t, statusOf(acts)); c == nil || c.Reason != batchv1.JobReasonBackoffLimitExceeded {
		t.Fatalf("FailureTarget condition = %+v", c)
	}
	if diff := cmp.Diff([]string{"run"}, deleted(acts, "pods")); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
}

func TestDeadlineWinsOverBackoffLimit(t *testing.T) {
	job := newJob("j", 5, 1)
	job.Spec.BackoffLimit = ptr(int32(0))
	job.Spec.ActiveDeadlineSeconds = ptr(int64(10))
	job.Status.StartTime = &metav1.Time{Time: t0}
	f := newFixture(t, job, podOf(job, "f1", corev1.PodFailed, t0), podOf(job, "run", corev1.PodRunning, t0))
	f.Clock.SetTime(t0.Add(10 * time.Second))
	acts := f.sync("j")
	c := failing(t, statusOf(acts))
	if c == nil || c.Reason != batchv1.JobReasonDeadlineExceeded {
		t.Fatalf("FailureTarget condition = %+v, want DeadlineExceeded", c)
	}
	if diff := cmp.Diff([]string{"run"}, deleted(acts, "pods")); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	// Before the deadline the job keeps running.
	job2 := newJob("k", 1, 1)
	job2.Spec.ActiveDeadlineSeconds = ptr(int64(10))
	job2.Status.StartTime = &metav1.Time{Time: t0}
	f = newFixture(t, job2, podOf(job2, "run", corev1.PodRunning, t0))
	f.Clock.SetTime(t0.Add(9 * time.Second))
	if c := cond(statusOf(f.sync("k")), batchv1.JobFailed); c != nil {
		t.Errorf("failed before the deadline: %+v", c)
	}
}

func TestTTLAfterFinished(t *testing.T) {
	job := newJob("j", 1, 1)
	job.Spec.TTLSecondsAfterFinished = ptr(int32(60))
	job.Status.CompletionTime = &metav1.Time{Time: t0}
	job.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue,
		LastTransitionTime: metav1.NewTime(t0)}}
	job.Status.Ready, job.Status.Terminating = ptr(int32(0)), ptr(int32(0))
	f := newFixture(t, job)
	f.Clock.SetTime(t0.Add(59 * time.Second))
	if got := deleted(f.sync("j"), "jobs"); len(got) != 0 {
		t.Fatalf("deleted %v before the TTL", got)
	}
	f.Clock.SetTime(t0.Add(60 * time.Second))
	acts := f.sync("j")
	if diff := cmp.Diff([]string{"j"}, deleted(acts, "jobs")); diff != "" {
		t.Fatalf("deleted jobs (-want +got):\n%s", diff)
	}
	opts := acts[0].(interface{ GetDeleteOptions() metav1.DeleteOptions }).GetDeleteOptions()
	if opts.PropagationPolicy == nil || *opts.PropagationPolicy != metav1.DeletePropagationBackground {
		t.Errorf("propagation = %v, want Background", opts.PropagationPolicy)
	}
	// A finished job without a TTL stays.
	job2 := newJob("k", 1, 1)
	job2.Status = job.Status
	job2.Status.CompletionTime = nil
	f = newFixture(t, job2)
	f.Clock.SetTime(t0.Add(time.Hour))
	if got := f.sync("k"); len(got) != 0 {
		t.Errorf("finished job without TTL: actions %v", got)
	}
}

func TestSuspendAndResume(t *testing.T) {
	job := newJob("j", 4, 2)
	job.Spec.Suspend = ptr(true)
	job.Status.StartTime = &metav1.Time{Time: t0.Add(-time.Hour)}
	f := newFixture(t, job, podOf(job, "a", corev1.PodRunning, t0), podOf(job, "b", corev1.PodRunning, t0))
	acts := f.sync("j")
	if n := len(deleted(acts, "pods")); n != 2 {
		t.Errorf("suspending deleted %d pods, want 2", n)
	}
	st := statusOf(acts)
	if c := cond(st, batchv1.JobSuspended); c == nil || c.Status != corev1.ConditionTrue || c.Reason != ReasonSuspended {
		t.Fatalf("suspended condition = %+v", c)
	}
	if st.Active != 0 {
		t.Errorf("active = %d while suspended", st.Active)
	}

	resumed := job.DeepCopy()
	resumed.Spec.Suspend = ptr(false)
	resumed.Status = *st
	f = newFixture(t, resumed)
	f.Clock.SetTime(t0.Add(time.Minute))
	acts = f.sync("j")
	st = statusOf(acts)
	if c := cond(st, batchv1.JobSuspended); c == nil || c.Status != corev1.ConditionFalse || c.Reason != ReasonResumed {
		t.Fatalf("suspended condition after resume = %+v", c)
	}
	if st.StartTime == nil || !st.StartTime.Time.Equal(t0.Add(time.Minute)) {
		t.Errorf("startTime after resume = %v, want reset to now", st.StartTime)
	}
	if n := len(created(acts)); n != 2 {
		t.Errorf("resume created %d pods, want 2", n)
	}
}

func TestIndexed(t *testing.T) {
	job := newJob("ix", 3, 2)
	job.Spec.CompletionMode = ptr(batchv1.IndexedCompletion)
	done := podForJob(job, 0)
	done.Name, done.Status.Phase = "ix-0-a", corev1.PodSucceeded
	f := newFixture(t, job, done)
	acts := f.sync("ix")
	pods := created(acts)
	if len(pods) != 2 {
		t.Fatalf("created %d pods, want 2", len(pods))
	}
	for i, p := range pods {
		idx := map[string]string{"ix-1-": "1", "ix-2-": "2"}[p.GenerateName]
		if idx == "" {
			t.Fatalf("pod %d generateName = %q", i, p.GenerateName)
		}
		if got := p.Annotations[batchv1.JobCompletionIndexAnnotation]; got != idx {
			t.Errorf("annotation = %q, want %s", got, idx)
		}
		if p.Spec.Hostname != "ix-"+idx {
			t.Errorf("hostname = %q", p.Spec.Hostname)
		}
		want := []corev1.EnvVar{{Name: JobCompletionIndexEnv, Value: idx}}
		if diff := cmp.Diff(want, p.Spec.Containers[0].Env); diff != "" {
			t.Errorf("env (-want +got):\n%s", diff)
		}
	}
	if st := statusOf(acts); st == nil || st.CompletedIndexes != "0" || st.Succeeded != 1 {
		t.Errorf("status = %+v, want completedIndexes 0", st)
	}
}

func TestFormatIndexes(t *testing.T) {
	for in, want := range map[string]string{"": "", "0": "0", "0,1,2,5,7,8": "0-2,5,7-8"} {
		var idx []int
		for _, c := range in {
			if c != ',' {
				idx = append(idx, int(c-'0'))
			}
		}
		if got := formatIndexes(idx); got != want {
			t.Errorf("formatIndexes(%v) = %q, want %q", idx, got, want)
		}
	}
}

// TestOnFailureStaleJobAfterBackoffLimit: the sync that fails a Job deletes its pod; the pod's
// deletion wakes the Job again while the informer still holds the copy from before the Failed
// condition. That sync must not create a replacement: neither for the terminating pod (its
// restarts still count) nor for one already gone (the controller remembers what it finished).
func TestOnFailureStaleJobAfterBackoffLimit(t *testing.T) {
	job := newJob("j", 1, 1)
	job.Spec.BackoffLimit = ptr(int32(1))
	job.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	p := podOf(job, "run", corev1.PodRunning, t0)
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", RestartCount: 1}}
	f := newFixture(t, job, p)
	acts := f.sync("j")
	st := statusOf(acts)
	if c := failing(t, st); c == nil || c.Reason != batchv1.JobReasonBackoffLimitExceeded {
		t.Fatalf("FailureTarget condition = %+v", c)
	}
	if st.Failed != 1 || st.Active != 0 || *st.Terminating != 1 {
		t.Errorf("status failed %d active %d terminating %d, want 1 0 1 (the stopped pod counts as failed)", st.Failed, st.Active, *st.Terminating)
	}
	// The pod is now terminating; the job informer still has the old job.
	terminating := p.DeepCopy()
	terminating.DeletionTimestamp = &metav1.Time{Time: t0}
	f.Put(terminating)
	f.C.exp.DeletionObserved("default/j", "default/run")
	if got := created(f.sync("j")); len(got) != 0 {
		t.Fatalf("created %d pods for a Job it has just failed (stale copy, pod terminating)", len(got))
	}
	// And once the pod is gone, still on the stale copy.
	g := newFixture(t, job, p)
	g.sync("j")
	if err := g.Informers.Core().V1().Pods().Informer().GetIndexer().Delete(p); err != nil {
		t.Fatal(err)
	}
	g.C.exp.DeletionObserved("default/j", "default/run")
	if got := created(g.sync("j")); len(got) != 0 {
		t.Fatalf("created %d pods for a Job it has just failed (stale copy, pod gone)", len(got))
	}
}

// TestFinishedJobStopsActivePods: a pod of a finished Job that still runs is deleted, and the
// Job's status.terminating follows its pods until they are gone.
func TestFinishedJobStopsActivePods(t *testing.T) {
	job := newJob("j", 1, 1)
	job.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue,
		Reason: batchv1.JobReasonBackoffLimitExceeded, LastTransitionTime: metav1.NewTime(t0)}}
	f := newFixture(t, job, podOf(job, "late", corev1.PodRunning, t0))
	acts := f.sync("j")
	if diff := cmp.Diff([]string{"late"}, deleted(acts, "pods")); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	if st := statusOf(acts); st == nil || *st.Terminating != 1 || st.Active != 0 {
		t.Errorf("status %+v, want terminating 1, active 0", st)
	}
	if len(created(acts)) != 0 {
		t.Error("a finished job created pods")
	}
}

// TestHugeActiveDeadline: an activeDeadlineSeconds beyond what a Duration holds is a deadline
// far away, not an overflow into the past that failed the job at once.
func TestHugeActiveDeadline(t *testing.T) {
	job := newJob("j", 1, 1)
	job.Spec.ActiveDeadlineSeconds = ptr(int64(9223372036854775807))
	job.Status.StartTime = &metav1.Time{Time: t0}
	f := newFixture(t, job, podOf(job, "run", corev1.PodRunning, t0))
	f.Clock.SetTime(t0.Add(time.Hour))
	if c := cond(statusOf(f.sync("j")), batchv1.JobFailed); c != nil {
		t.Errorf("failed at once: %+v", c)
	}
}
