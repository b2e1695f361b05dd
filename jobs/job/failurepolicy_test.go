package job

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

// failedWith is a failed pod of job whose container c exited with code at finished.
func failedWith(job *batchv1.Job, name string, code int32, finished time.Time) *corev1.Pod {
	p := podOf(job, name, corev1.PodFailed, finished)
	p.Status.ContainerStatuses[0].State.Terminated.ExitCode = code
	return p
}

func exitRule(action batchv1.PodFailurePolicyAction, op batchv1.PodFailurePolicyOnExitCodesOperator, values ...int32) batchv1.PodFailurePolicyRule {
	return batchv1.PodFailurePolicyRule{Action: action,
		OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: op, Values: values}}
}

func policyJob(name string, completions, parallelism int32, rules ...batchv1.PodFailurePolicyRule) *batchv1.Job {
	job := newJob(name, completions, parallelism)
	job.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: rules}
	job.Spec.PodReplacementPolicy = ptr(batchv1.Failed)
	return job
}

func conditionTypes(st *batchv1.JobStatus) []batchv1.JobConditionType {
	var out []batchv1.JobConditionType
	for _, c := range st.Conditions {
		out = append(out, c.Type)
	}
	return out
}

// TestPodFailurePolicyFailJob: a pod whose exit code matches a FailJob rule fails the job at
// once, far from its backoffLimit: FailureTarget first (the running pod is deleted), then
// Failed with reason PodFailurePolicy and Kubernetes' message once no pod is left.
func TestPodFailurePolicyFailJob(t *testing.T) {
	job := policyJob("j", 4, 2, exitRule(batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyOnExitCodesOpIn, 3))
	want := "Container c for pod default/f failed with exit code 3 matching FailJob rule at index 0"
	f := newFixture(t, job, failedWith(job, "f", 3, t0), podOf(job, "run", corev1.PodRunning, t0))
	acts := f.sync("j")
	st := statusOf(acts)
	ft := cond(st, batchv1.JobFailureTarget)
	if ft == nil || ft.Status != corev1.ConditionTrue || ft.Reason != batchv1.JobReasonPodFailurePolicy || ft.Message != want {
		t.Fatalf("FailureTarget = %+v, want True %s %q", ft, batchv1.JobReasonPodFailurePolicy, want)
	}
	if c := cond(st, batchv1.JobFailed); c != nil {
		t.Errorf("Failed set while pod run is still being deleted: %+v", c)
	}
	if diff := cmp.Diff([]string{"run"}, deleted(acts, "pods")); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	if n := len(created(acts)); n != 0 {
		t.Errorf("created %d pods for a failing job", n)
	}
	if st.Failed != 2 || *st.Terminating != 1 || st.Active != 0 {
		t.Errorf("failed %d terminating %d active %d, want 2 1 0", st.Failed, *st.Terminating, st.Active)
	}

	// Next sync: run is terminating; the job stays FailureTarget only.
	job.Status = *st
	gone := podOf(job, "run", corev1.PodRunning, t0)
	gone.DeletionTimestamp = &metav1.Time{Time: t0}
	f = newFixture(t, job, failedWith(job, "f", 3, t0), gone)
	acts = f.sync("j")
	if st := statusOf(acts); st != nil && cond(st, batchv1.JobFailed) != nil {
		t.Fatalf("Failed set with a pod terminating: %+v", st.Conditions)
	}
	if n := len(created(acts)) + len(deleted(acts, "pods")); n != 0 {
		t.Errorf("acted on %d pods while the job waits for its last pod", n)
	}

	// The pod is gone: Failed, with the FailureTarget's reason and message.
	f = newFixture(t, job, failedWith(job, "f", 3, t0))
	st = statusOf(f.sync("j"))
	c := cond(st, batchv1.JobFailed)
	if c == nil || c.Status != corev1.ConditionTrue || c.Reason != batchv1.JobReasonPodFailurePolicy || c.Message != want {
		t.Fatalf("Failed = %+v, want True %s %q", c, batchv1.JobReasonPodFailurePolicy, want)
	}
	if d := cmp.Diff([]batchv1.JobConditionType{batchv1.JobFailureTarget, batchv1.JobFailed}, conditionTypes(st)); d != "" {
		t.Errorf("conditions (-want +got):\n%s", d)
	}
	if ev := f.Events(); len(ev) != 1 || ev[0] != "Warning PodFailurePolicy "+want {
		t.Errorf("events = %q, want the Warning PodFailurePolicy", ev)
	}
}

// TestPodFailurePolicyFailJobNoActive: with no pod left to stop, FailureTarget and Failed come
// in the same sync; a matching pod condition fails the job with Kubernetes' message for it.
func TestPodFailurePolicyFailJobNoActive(t *testing.T) {
	job := policyJob("j", 1, 1,
		exitRule(batchv1.PodFailurePolicyActionIgnore, batchv1.PodFailurePolicyOnExitCodesOpIn, 7),
		batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionFailJob,
			OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}})
	p := failedWith(job, "evicted", 137, t0)
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}
	f := newFixture(t, job, p)
	st := statusOf(f.sync("j"))
	want := "Pod default/evicted has condition DisruptionTarget matching FailJob rule at index 1"
	if d := cmp.Diff([]batchv1.JobConditionType{batchv1.JobFailureTarget, batchv1.JobFailed}, conditionTypes(st)); d != "" {
		t.Fatalf("conditions (-want +got):\n%s", d)
	}
	if c := cond(st, batchv1.JobFailed); c.Reason != batchv1.JobReasonPodFailurePolicy || c.Message != want {
		t.Errorf("Failed = %s %q, want PodFailurePolicy %q", c.Reason, c.Message, want)
	}
}

// TestPodFailurePolicyIgnore: a failure an Ignore rule matches neither counts in status.failed
// nor towards backoffLimit (0 here): the pod is replaced; without the policy the same failure
// fails the job.
func TestPodFailurePolicyIgnore(t *testing.T) {
	job := policyJob("j", 1, 1, exitRule(batchv1.PodFailurePolicyActionIgnore, batchv1.PodFailurePolicyOnExitCodesOpIn, 1))
	job.Spec.BackoffLimit = ptr(int32(0))
	f := newFixture(t, job, failedWith(job, "f", 1, t0.Add(-time.Hour)))
	acts := f.sync("j")
	st := statusOf(acts)
	if st == nil || st.Failed != 0 || cond(st, batchv1.JobFailed) != nil || cond(st, batchv1.JobFailureTarget) != nil {
		t.Fatalf("status = %+v, want no failure counted", st)
	}
	if n := len(created(acts)); n != 1 {
		t.Errorf("created %d pods, want the failed one replaced", n)
	}

	// Another exit code is counted: backoffLimit 0 is exceeded.
	f = newFixture(t, job, failedWith(job, "f", 2, t0.Add(-time.Hour)))
	st = statusOf(f.sync("j"))
	if c := cond(st, batchv1.JobFailed); c == nil || c.Reason != batchv1.JobReasonBackoffLimitExceeded || st.Failed != 1 {
		t.Errorf("exit code 2: status = %+v, want 1 failed and BackoffLimitExceeded", st)
	}
}

// TestPodFailurePolicyTerminatingNotReplaced: with a podFailurePolicy (podReplacementPolicy
// Failed) a terminating pod keeps its place until it has failed; without, it is replaced.
func TestPodFailurePolicyTerminatingNotReplaced(t *testing.T) {
	for _, withPolicy := range []bool{true, false} {
		job := newJob("j", 2, 2)
		if withPolicy {
			job = policyJob("j", 2, 2, exitRule(batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyOnExitCodesOpIn, 3))
		}
		term := podOf(job, "term", corev1.PodRunning, t0)
		term.DeletionTimestamp = &metav1.Time{Time: t0}
		f := newFixture(t, job, term, podOf(job, "run", corev1.PodRunning, t0))
		want := 1
		if withPolicy {
			want = 0
		}
		if n := len(created(f.sync("j"))); n != want {
			t.Errorf("podFailurePolicy %v: created %d pods beside a terminating one, want %d", withPolicy, n, want)
		}
	}
	// Indexed: the terminating pod's index is not started again.
	job := policyJob("j", 3, 3, exitRule(batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyOnExitCodesOpIn, 3))
	job.Spec.CompletionMode = ptr(batchv1.IndexedCompletion)
	term := podForJob(job, 1)
	term.Name, term.GenerateName, term.UID = "term", "", "term"
	term.DeletionTimestamp = &metav1.Time{Time: t0}
	f := newFixture(t, job, term)
	var idx []string
	for _, p := range created(f.sync("j")) {
		idx = append(idx, p.Annotations[batchv1.JobCompletionIndexAnnotation])
	}
	if d := cmp.Diff([]string{"0", "2"}, idx, cmpopts.SortSlices(func(a, b string) bool { return a < b })); d != "" {
		t.Errorf("created indexes (-want +got):\n%s", d)
	}
}

// TestMatchPolicy: the rules apply in order, the first match wins; In and NotIn, containerName,
// init containers, zero exit codes (never a match) and Count.
func TestMatchPolicy(t *testing.T) {
	in, notIn := batchv1.PodFailurePolicyOnExitCodesOpIn, batchv1.PodFailurePolicyOnExitCodesOpNotIn
	pod := func(codes map[string]int32, init map[string]int32) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"}}
		for _, n := range []string{"a", "b"} {
			if c, ok := codes[n]; ok {
				p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: n,
					State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: c}}})
			}
			if c, ok := init[n]; ok {
				p.Status.InitContainerStatuses = append(p.Status.InitContainerStatuses, corev1.ContainerStatus{Name: "init-" + n,
					State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: c}}})
			}
		}
		return p
	}
	named := func(r batchv1.PodFailurePolicyRule, c string) batchv1.PodFailurePolicyRule {
		r.OnExitCodes.ContainerName = &c
		return r
	}
	failJob, ignore, count := batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyActionIgnore, batchv1.PodFailurePolicyActionCount
	tests := []struct {
		name  string
		rules []batchv1.PodFailurePolicyRule
		pod   *corev1.Pod
		want  policyMatch
	}{
		{"In", []batchv1.PodFailurePolicyRule{exitRule(failJob, in, 1, 3)}, pod(map[string]int32{"a": 3}, nil),
			policyMatch{failJob, "Container a for pod ns/p failed with exit code 3 matching FailJob rule at index 0"}},
		{"In, other code", []batchv1.PodFailurePolicyRule{exitRule(failJob, in, 1, 3)}, pod(map[string]int32{"a": 2}, nil), policyMatch{}},
		{"NotIn", []batchv1.PodFailurePolicyRule{exitRule(ignore, notIn, 1), exitRule(failJob, notIn, 2)}, pod(map[string]int32{"a": 1, "b": 5}, nil),
			policyMatch{action: ignore}},
		{"NotIn skips exit code 0", []batchv1.PodFailurePolicyRule{exitRule(failJob, notIn, 1)}, pod(map[string]int32{"a": 0, "b": 1}, nil), policyMatch{}},
		{"first rule wins", []batchv1.PodFailurePolicyRule{exitRule(count, in, 3), exitRule(failJob, in, 3)}, pod(map[string]int32{"a": 3}, nil),
			policyMatch{action: count}},
		{"containerName", []batchv1.PodFailurePolicyRule{named(exitRule(failJob, in, 3), "b"), exitRule(failJob, in, 4)},
			pod(map[string]int32{"a": 3, "b": 4}, nil),
			policyMatch{failJob, "Container b for pod ns/p failed with exit code 4 matching FailJob rule at index 1"}},
		{"init container", []batchv1.PodFailurePolicyRule{exitRule(failJob, in, 9)}, pod(nil, map[string]int32{"a": 9}),
			policyMatch{failJob, "Container init-a for pod ns/p failed with exit code 9 matching FailJob rule at index 0"}},
		{"condition status differs", []batchv1.PodFailurePolicyRule{{Action: ignore,
			OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionFalse}}}},
			func() *corev1.Pod {
				p := pod(nil, nil)
				p.Status.Conditions = []corev1.PodCondition{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}
				return p
			}(), policyMatch{}},
	}
	for _, tt := range tests {
		got := matchPolicy(&batchv1.PodFailurePolicy{Rules: tt.rules}, tt.pod)
		if got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// TestFinishDeletesPodsAfterStatus: the pods of a job that fails are deleted only once its
// Failed condition is written. When that write loses to a conflict, the pods stay: deleted,
// an OnFailure pod's restarts (what failed the job) would go with them and the next sync would
// start a replacement under a job that had failed (TestHollowOnFailureBackoffLimitNoReplacement
// caught it now and then).
func TestFinishDeletesPodsAfterStatus(t *testing.T) {
	job := newJob("j", 1, 1)
	job.Spec.BackoffLimit = ptr(int32(1))
	job.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	p := podOf(job, "run", corev1.PodRunning, t0)
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", RestartCount: 1}}
	f := newFixture(t, job, p)
	f.Client.PrependReactor("update", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "status" {
			return true, nil, apierrors.NewConflict(batchv1.Resource("jobs"), "j", errors.New("the object has been modified"))
		}
		return false, nil, nil
	})
	acts := conflicted(t, f, "j")
	if got := deleted(acts, "pods"); len(got) != 0 {
		t.Errorf("deleted %v although the Failed status was not written", got)
	}

	// The same with the FailureTarget of a podFailurePolicy.
	job = policyJob("k", 2, 2, exitRule(batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyOnExitCodesOpIn, 3))
	f = newFixture(t, job, failedWith(job, "f", 3, t0), podOf(job, "run", corev1.PodRunning, t0))
	f.Client.PrependReactor("update", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return a.GetSubresource() == "status", nil, apierrors.NewConflict(batchv1.Resource("jobs"), "k", errors.New("modified"))
	})
	acts = conflicted(t, f, "k")
	if got := deleted(acts, "pods"); len(got) != 0 {
		t.Errorf("deleted %v although the FailureTarget status was not written", got)
	}
}

// conflicted runs a sync of default/name that must fail with a conflict; its actions.
func conflicted(t *testing.T, f *fixture, name string) []k8stesting.Action {
	t.Helper()
	f.Client.ClearActions()
	if err := f.C.sync(t.Context(), "default/"+name); !apierrors.IsConflict(err) {
		t.Fatalf("sync %s: %v, want the status conflict", name, err)
	}
	return f.Client.Actions()
}
