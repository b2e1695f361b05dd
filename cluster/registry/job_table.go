package registry

import (
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
)

// jobTable prints jobs as kubectl v1.32 does.
func jobTable() *Table {
	return &Table{
		Columns: append([]metav1.TableColumnDefinition{
			nameColumn,
			column("Status", "string", "Status of the job.", 0),
			column("Completions", "string", "The desired number of successfully finished pods the job should be run with.", 0),
			column("Duration", "string", "Time required to complete the job.", 0),
			ageColumn,
		}, podTemplateColumns()...),
		Row: func(obj runtime.Object) ([]interface{}, error) { return jobRow(obj.(*batchv1.Job), time.Now()) },
	}
}

// jobRow is one row of `kubectl get jobs` (wide columns included), as kubectl's printJob.
func jobRow(job *batchv1.Job, now time.Time) ([]interface{}, error) {
	var completions string
	switch {
	case job.Spec.Completions != nil:
		completions = fmt.Sprintf("%d/%d", job.Status.Succeeded, *job.Spec.Completions)
	case job.Spec.Parallelism != nil && *job.Spec.Parallelism > 1:
		completions = fmt.Sprintf("%d/1 of %d", job.Status.Succeeded, *job.Spec.Parallelism)
	default:
		completions = fmt.Sprintf("%d/1", job.Status.Succeeded)
	}
	var took string
	switch st := job.Status; {
	case st.StartTime == nil:
	case st.CompletionTime == nil:
		took = duration.HumanDuration(now.Sub(st.StartTime.Time))
	default:
		took = duration.HumanDuration(st.CompletionTime.Sub(st.StartTime.Time))
	}
	names, images := podContainerCells(job.Spec.Template.Spec.Containers)
	selector, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("job %s selector: %w", job.Name, err)
	}
	return []interface{}{
		job.Name, jobStatusCell(job), completions, took, translateTimestampSince(job.CreationTimestamp),
		names, images, selector.String(),
	}, nil
}

// jobStatusCell is kubectl's job STATUS: the first true of Complete, Failed, Terminating,
// Suspended, FailureTarget, SuccessCriteriaMet, else Running.
func jobStatusCell(job *batchv1.Job) string {
	has := func(t batchv1.JobConditionType) bool {
		for _, c := range job.Status.Conditions {
			if c.Type == t && c.Status == corev1.ConditionTrue {
				return true
			}
		}
		return false
	}
	switch {
	case has(batchv1.JobComplete):
		return "Complete"
	case has(batchv1.JobFailed):
		return "Failed"
	case job.DeletionTimestamp != nil:
		return "Terminating"
	case has(batchv1.JobSuspended):
		return "Suspended"
	case has(batchv1.JobFailureTarget):
		return "FailureTarget"
	case has(batchv1.JobSuccessCriteriaMet):
		return "SuccessCriteriaMet"
	}
	return "Running"
}
