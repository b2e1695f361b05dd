package job

import (
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
)

// managedElsewhere reports whether spec.managedBy hands the job to another controller than
// Kubernetes' job controller (JobManagedBy): this controller then neither creates nor deletes
// its pods nor writes its status.
func managedElsewhere(job *batchv1.Job) bool {
	return job.Spec.ManagedBy != nil && *job.Spec.ManagedBy != batchv1.JobControllerName
}

// matchSuccessPolicy is Kubernetes' matchSuccessPolicy: the first rule of an Indexed job's
// successPolicy its succeeded indexes (status.completedIndexes) meet — all the rule's
// succeededIndexes, or succeededCount of them, or succeededCount indexes of any kind without
// succeededIndexes — and the message of the SuccessCriteriaMet condition it gives.
func matchSuccessPolicy(job *batchv1.Job) (string, bool) {
	if job.Spec.SuccessPolicy == nil || !indexed(job) {
		return "", false
	}
	completions := int(*job.Spec.Completions)
	done := map[int]bool{}
	for _, i := range parseIndexes(job.Status.CompletedIndexes, completions) {
		done[i] = true
	}
	if len(done) == 0 {
		return "", false
	}
	for i, rule := range job.Spec.SuccessPolicy.Rules {
		matched := false
		if rule.SucceededIndexes != nil {
			want := map[int]bool{}
			for _, x := range parseIndexes(*rule.SucceededIndexes, completions) {
				want[x] = true
			}
			if len(want) == 0 {
				continue
			}
			have := 0
			for x := range want {
				if done[x] {
					have++
				}
			}
			matched = have == len(want) || (rule.SucceededCount != nil && have >= int(*rule.SucceededCount))
		} else if rule.SucceededCount != nil {
			matched = len(done) >= int(*rule.SucceededCount)
		}
		if matched {
			return fmt.Sprintf("Matched rules at index %d", i), true
		}
	}
	return "", false
}

// succeed reports the active pods of a job whose success criteria are met terminating (not
// failed: Kubernetes counts the pods it stops then in neither succeeded nor failed) and
// returns them for deletion once the status is written.
func succeed(job *batchv1.Job, s podSet) []*corev1.Pod {
	job.Status.Active = 0
	job.Status.Ready = ptr(int32(0))
	job.Status.Terminating = ptr(int32(len(s.terminating) + len(s.active)))
	return s.active
}

// completeOnceGone adds the Complete condition of a job with SuccessCriteriaMet, with its reason
// and message, when no pod of it runs or terminates any more.
func completeOnceGone(job *batchv1.Job, reason, msg string, now time.Time, rec record.EventRecorder) {
	if *job.Status.Terminating != 0 {
		return
	}
	setCondition(&job.Status, batchv1.JobComplete, corev1.ConditionTrue, reason, msg, now)
	job.Status.CompletionTime = ptr(metav1.NewTime(now))
	rec.Event(job, corev1.EventTypeNormal, "Completed", "Job completed")
}
