package job

import (
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// TestTerminalConditionsComeAfterInterimOnes: as Kubernetes 1.32's job controller (JobManagedBy
// and JobPodReplacementPolicy on: delayTerminalCondition), a job that reaches its completions
// gets SuccessCriteriaMet (CompletionsReached) before Complete, and one past its backoff limit
// FailureTarget (BackoffLimitExceeded) before Failed: in the same status write when no pod of
// it runs any more, with the same reason and message.
func TestTerminalConditionsComeAfterInterimOnes(t *testing.T) {
	types := func(st *batchv1.JobStatus) []batchv1.JobConditionType {
		var out []batchv1.JobConditionType
		for _, c := range st.Conditions {
			if c.Status == corev1.ConditionTrue {
				out = append(out, c.Type)
			}
		}
		return out
	}
	same := func(a, b *batchv1.JobCondition) bool {
		return a != nil && b != nil && a.Reason == b.Reason && a.Message == b.Message
	}

	job := newJob("j", 2, 1)
	f := newFixture(t, job, podOf(job, "a", corev1.PodSucceeded, t0), podOf(job, "b", corev1.PodSucceeded, t0))
	st := statusOf(f.sync("j"))
	want := []batchv1.JobConditionType{batchv1.JobSuccessCriteriaMet, batchv1.JobComplete}
	if got := types(st); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("conditions %v, want %v", got, want)
	}
	sc, done := cond(st, batchv1.JobSuccessCriteriaMet), cond(st, batchv1.JobComplete)
	if sc.Reason != batchv1.JobReasonCompletionsReached || sc.Message != "Reached expected number of succeeded pods" || !same(sc, done) {
		t.Errorf("SuccessCriteriaMet %+v, Complete %+v: want reason CompletionsReached on both", sc, done)
	}

	job = newJob("k", 5, 1)
	job.Spec.BackoffLimit = ptr(int32(0))
	f = newFixture(t, job, podOf(job, "f", corev1.PodFailed, t0))
	st = statusOf(f.sync("k"))
	want = []batchv1.JobConditionType{batchv1.JobFailureTarget, batchv1.JobFailed}
	if got := types(st); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("conditions %v, want %v", got, want)
	}
	ft, failed := cond(st, batchv1.JobFailureTarget), cond(st, batchv1.JobFailed)
	if ft.Reason != batchv1.JobReasonBackoffLimitExceeded || !same(ft, failed) {
		t.Errorf("FailureTarget %+v, Failed %+v: want reason BackoffLimitExceeded on both", ft, failed)
	}
}
