package job

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// successJob is an Indexed job of completions pods at once with the given successPolicy rules.
func successJob(completions int32, rules ...batchv1.SuccessPolicyRule) *batchv1.Job {
	job := newJob("j", completions, completions)
	job.Spec.CompletionMode = ptr(batchv1.IndexedCompletion)
	job.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: rules}
	return job
}

// TestSuccessPolicySucceededIndexes: once the indexes a rule names have succeeded, the job
// gets SuccessCriteriaMet (reason SuccessPolicy, Kubernetes' message) and its running pods are
// deleted, counted neither failed nor succeeded; Complete, with the same reason and message,
// follows once no pod runs or terminates.
func TestSuccessPolicySucceededIndexes(t *testing.T) {
	job := successJob(4, batchv1.SuccessPolicyRule{SucceededIndexes: ptr("0,2")})
	old := t0.Add(-time.Minute)
	done := []*corev1.Pod{indexPod(job, "p0", 0, corev1.PodSucceeded, old), indexPod(job, "p2", 2, corev1.PodSucceeded, old)}
	f := newFixture(t, job, done[0], done[1], indexPod(job, "p1", 1, corev1.PodRunning, old), indexPod(job, "p3", 3, corev1.PodRunning, old))
	acts := f.sync("j")
	st := statusOf(acts)
	const msg = "Matched rules at index 0"
	sc := cond(st, batchv1.JobSuccessCriteriaMet)
	if sc == nil || sc.Status != corev1.ConditionTrue || sc.Reason != batchv1.JobReasonSuccessPolicy || sc.Message != msg {
		t.Fatalf("SuccessCriteriaMet = %+v, want True %s %q", sc, batchv1.JobReasonSuccessPolicy, msg)
	}
	if c := cond(st, batchv1.JobComplete); c != nil {
		t.Errorf("Complete set while pods are being deleted: %+v", c)
	}
	if d := cmp.Diff([]string{"p1", "p3"}, deleted(acts, "pods"), cmpopts.SortSlices(func(a, b string) bool { return a < b })); d != "" {
		t.Errorf("deleted (-want +got):\n%s", d)
	}
	if n := len(created(acts)); n != 0 {
		t.Errorf("created %d pods for a job whose success criteria are met", n)
	}
	if st.Succeeded != 2 || st.Failed != 0 || st.Active != 0 || *st.Terminating != 2 || st.CompletedIndexes != "0,2" {
		t.Errorf("succeeded %d failed %d active %d terminating %d completedIndexes %q, want 2 0 0 2 0,2",
			st.Succeeded, st.Failed, st.Active, *st.Terminating, st.CompletedIndexes)
	}
	if st.CompletionTime != nil {
		t.Errorf("completionTime %v before Complete", st.CompletionTime)
	}

	// The pods terminate: the job waits, starting nothing.
	job.Status = *st
	term := []*corev1.Pod{indexPod(job, "p1", 1, corev1.PodRunning, old), indexPod(job, "p3", 3, corev1.PodRunning, old)}
	for _, p := range term {
		p.DeletionTimestamp = &metav1.Time{Time: t0}
	}
	f = newFixture(t, job, done[0], done[1], term[0], term[1])
	acts = f.sync("j")
	if st := statusOf(acts); st != nil && cond(st, batchv1.JobComplete) != nil {
		t.Fatalf("Complete with pods terminating: %+v", st.Conditions)
	}
	if n := len(created(acts)) + len(deleted(acts, "pods")); n != 0 {
		t.Errorf("acted on %d pods while the job waits for its last pods", n)
	}

	// They are gone: Complete.
	f = newFixture(t, job, done[0], done[1])
	f.Clock.SetTime(t0.Add(time.Second))
	st = statusOf(f.sync("j"))
	c := cond(st, batchv1.JobComplete)
	if c == nil || c.Status != corev1.ConditionTrue || c.Reason != batchv1.JobReasonSuccessPolicy || c.Message != msg {
		t.Fatalf("Complete = %+v, want True %s %q", c, batchv1.JobReasonSuccessPolicy, msg)
	}
	if d := cmp.Diff([]batchv1.JobConditionType{batchv1.JobSuccessCriteriaMet, batchv1.JobComplete}, conditionTypes(st)); d != "" {
		t.Errorf("conditions (-want +got):\n%s", d)
	}
	if st.CompletionTime == nil || !st.CompletionTime.Time.Equal(t0.Add(time.Second)) || *st.Terminating != 0 {
		t.Errorf("completionTime %v terminating %d, want %v and 0", st.CompletionTime, *st.Terminating, t0.Add(time.Second))
	}
	if ev := f.Events(); len(ev) != 1 || ev[0] != "Normal Completed Job completed" {
		t.Errorf("events = %q, want Normal Completed", ev)
	}
}

// TestSuccessPolicyRules: rules are tried in order; succeededCount with succeededIndexes counts
// only the named indexes, alone any index. The message names the first rule met, and with no
// pod left the job completes in the same sync.
func TestSuccessPolicyRules(t *testing.T) {
	old := t0.Add(-time.Minute)
	rules := []batchv1.SuccessPolicyRule{
		{SucceededIndexes: ptr("1-3"), SucceededCount: ptr(int32(2))},
		{SucceededCount: ptr(int32(3))},
	}
	tests := []struct {
		name      string
		succeeded []int
		want      string // "" no match
	}{
		{"none", nil, ""},
		{"one named index", []int{0, 2}, ""},
		{"two named indexes", []int{2, 3}, "Matched rules at index 0"},
		{"three indexes", []int{0, 2, 4}, "Matched rules at index 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := successJob(5, rules...)
			job.Spec.Parallelism = ptr(int32(0))
			var objs []runtime.Object
			objs = append(objs, job)
			for _, i := range tt.succeeded {
				objs = append(objs, indexPod(job, "p"+strconv.Itoa(i), i, corev1.PodSucceeded, old))
			}
			f := newFixture(t, objs...)
			st := statusOf(f.sync("j"))
			if tt.want == "" {
				if st != nil && (cond(st, batchv1.JobSuccessCriteriaMet) != nil || cond(st, batchv1.JobComplete) != nil) {
					t.Errorf("conditions %v, want none", conditionTypes(st))
				}
				return
			}
			if d := cmp.Diff([]batchv1.JobConditionType{batchv1.JobSuccessCriteriaMet, batchv1.JobComplete}, conditionTypes(st)); d != "" {
				t.Fatalf("conditions (-want +got):\n%s", d)
			}
			for _, c := range st.Conditions {
				if c.Reason != batchv1.JobReasonSuccessPolicy || c.Message != tt.want {
					t.Errorf("%s: %s %q, want SuccessPolicy %q", c.Type, c.Reason, c.Message, tt.want)
				}
			}
		})
	}
}

// TestSuccessPolicyAfterFailure: a failure decided in the same sync (here the backoff limit)
// comes before a matching rule, as in Kubernetes.
func TestSuccessPolicyAfterFailure(t *testing.T) {
	job := successJob(3, batchv1.SuccessPolicyRule{SucceededCount: ptr(int32(1))})
	job.Spec.BackoffLimit = ptr(int32(0))
	old := t0.Add(-time.Minute)
	f := newFixture(t, job, indexPod(job, "ok", 0, corev1.PodSucceeded, old), indexPod(job, "bad", 1, corev1.PodFailed, old))
	st := statusOf(f.sync("j"))
	if c := cond(st, batchv1.JobFailed); c == nil || c.Reason != batchv1.JobReasonBackoffLimitExceeded {
		t.Errorf("conditions %+v, want Failed BackoffLimitExceeded", st.Conditions)
	}
	if c := cond(st, batchv1.JobSuccessCriteriaMet); c != nil {
		t.Errorf("SuccessCriteriaMet set on a failed job: %+v", c)
	}
}

// TestManagedByOtherController: a job whose spec.managedBy names another controller gets no
// pods and no status from this one, not even its running pods deleted once finished; its
// ttlSecondsAfterFinished still applies. managedBy naming Kubernetes' job controller changes
// nothing.
func TestManagedByOtherController(t *testing.T) {
	job := newJob("j", 2, 2)
	job.Spec.ManagedBy = ptr("example.com/other")
	f := newFixture(t, job)
	if acts := f.sync("j"); len(acts) != 0 {
		t.Errorf("actions on a job managed elsewhere: %v", acts)
	}

	// Finished by its controller with a pod still running: left alone until the TTL.
	job.Spec.TTLSecondsAfterFinished = ptr(int32(60))
	job.Status.CompletionTime = &metav1.Time{Time: t0}
	job.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue,
		LastTransitionTime: metav1.NewTime(t0)}}
	f = newFixture(t, job, podOf(job, "run", corev1.PodRunning, t0))
	if acts := f.sync("j"); len(acts) != 0 {
		t.Errorf("actions on a finished job managed elsewhere before its TTL: %v", acts)
	}
	f.Clock.SetTime(t0.Add(time.Minute))
	if d := cmp.Diff([]string{"j"}, deleted(f.sync("j"), "jobs")); d != "" {
		t.Errorf("deleted jobs after the TTL (-want +got):\n%s", d)
	}

	mine := newJob("k", 2, 2)
	mine.Spec.ManagedBy = ptr(batchv1.JobControllerName)
	f = newFixture(t, mine)
	acts := f.sync("k")
	if n := len(created(acts)); n != 2 {
		t.Errorf("created %d pods for a job managed by %s, want 2", n, batchv1.JobControllerName)
	}
	if statusOf(acts) == nil {
		t.Error("no status written for a job managed by the job controller")
	}
}
