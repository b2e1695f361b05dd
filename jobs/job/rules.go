package job

import (
	"math"
	"slices"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Pod failure back-off (Kubernetes' DefaultJobPodFailureBackOff, doubled per failure and capped).
const (
	PodFailureBackOff    = 10 * time.Second
	MaxPodFailureBackOff = 6 * time.Minute
)

// Condition reasons the controller writes next to batchv1's own.
const (
	ReasonSuspended = "JobSuspended"
	ReasonResumed   = "JobResumed"
)

// backoffDelay is the wait after failures consecutive pod failures: 0, then 10 s doubling to 6 min.
func backoffDelay(failures int) time.Duration {
	if failures <= 0 {
		return 0
	}
	d := PodFailureBackOff
	for i := 1; i < failures && d < MaxPodFailureBackOff; i++ {
		d *= 2
	}
	return min(d, MaxPodFailureBackOff)
}

// backoffRemaining is how long the job must still wait before replacing a failed pod: failures
// count since the last success (Kubernetes' backoffRecord), measured from the last failure.
func backoffRemaining(s podSet, now time.Time) time.Duration {
	var lastSuccess, lastFailure time.Time
	for _, p := range s.succeeded {
		if t := finishTime(p); t.After(lastSuccess) {
			lastSuccess = t
		}
	}
	failures := 0
	for _, p := range s.failed {
		t := finishTime(p)
		if t.Before(lastSuccess) {
			continue
		}
		failures++
		if t.After(lastFailure) {
			lastFailure = t
		}
	}
	if failures == 0 {
		return 0
	}
	return max(0, lastFailure.Add(backoffDelay(failures)).Sub(now))
}

// pastBackoffLimitOnFailure counts container restarts of the pods not finished (active and
// terminating: a pod being deleted keeps the restarts it made) towards the backoff limit when
// the pods restart in place (restartPolicy OnFailure), as Kubernetes does.
func pastBackoffLimitOnFailure(job *batchv1.Job, s podSet) bool {
	if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		return false
	}
	var restarts int32
	for _, p := range slices.Concat(s.active, s.terminating) {
		for _, cs := range p.Status.InitContainerStatuses {
			restarts += cs.RestartCount
		}
		for _, cs := range p.Status.ContainerStatuses {
			restarts += cs.RestartCount
		}
	}
	limit := backoffLimit(job)
	if limit == 0 {
		return restarts > 0
	}
	return restarts >= limit
}

func backoffLimit(job *batchv1.Job) int32 {
	if job.Spec.BackoffLimit == nil {
		return 6
	}
	return *job.Spec.BackoffLimit
}

// deadlineRemaining is the time left before activeDeadlineSeconds; ok is false without a deadline.
func deadlineRemaining(job *batchv1.Job, now time.Time) (time.Duration, bool) {
	if job.Spec.ActiveDeadlineSeconds == nil || job.Status.StartTime == nil || suspended(job) {
		return 0, false
	}
	// Capped to what a Duration holds: a larger deadline overflowed to a negative one and
	// failed the job at once.
	end := job.Status.StartTime.Add(time.Duration(min(*job.Spec.ActiveDeadlineSeconds, int64(math.MaxInt64/time.Second))) * time.Second)
	return end.Sub(now), true
}

func suspended(job *batchv1.Job) bool { return job.Spec.Suspend != nil && *job.Spec.Suspend }

func indexed(job *batchv1.Job) bool {
	return job.Spec.CompletionMode != nil && *job.Spec.CompletionMode == batchv1.IndexedCompletion &&
		job.Spec.Completions != nil
}

func parallelism(job *batchv1.Job) int32 {
	if job.Spec.Parallelism == nil {
		return 1
	}
	return *job.Spec.Parallelism
}

// wantActive is how many pods should run: min(parallelism, remaining completions); with no
// completions, parallelism until the first success, after which the running ones finish.
func wantActive(job *batchv1.Job, succeeded, active int32) int32 {
	if job.Spec.Completions == nil {
		if succeeded > 0 {
			return min(active, parallelism(job))
		}
		return parallelism(job)
	}
	return max(0, min(parallelism(job), *job.Spec.Completions-succeeded))
}

// finishedCondition is the job's Complete or Failed condition that is true, or nil.
func finishedCondition(job *batchv1.Job) *batchv1.JobCondition {
	for i, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return &job.Status.Conditions[i]
		}
	}
	return nil
}

// decided reports whether the job's fate is written: Complete or Failed, or the interim
// SuccessCriteriaMet or FailureTarget that come first.
func decided(job *batchv1.Job) bool {
	for _, c := range job.Status.Conditions {
		switch c.Type {
		case batchv1.JobComplete, batchv1.JobFailed, batchv1.JobSuccessCriteriaMet, batchv1.JobFailureTarget:
			if c.Status == corev1.ConditionTrue {
				return true
			}
		}
	}
	return false
}

func condition(st *batchv1.JobStatus, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

// setCondition sets a condition of the status, keeping its transition time unless the status changes.
func setCondition(st *batchv1.JobStatus, t batchv1.JobConditionType, status corev1.ConditionStatus, reason, msg string, now time.Time) {
	n := metav1.NewTime(now)
	if c := condition(st, t); c != nil {
		if c.Status != status {
			c.LastTransitionTime = n
		}
		c.Status, c.Reason, c.Message, c.LastProbeTime = status, reason, msg, n
		return
	}
	st.Conditions = append(st.Conditions, batchv1.JobCondition{Type: t, Status: status, Reason: reason,
		Message: msg, LastProbeTime: n, LastTransitionTime: n})
}
