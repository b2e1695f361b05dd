package cronjob

import (
	"context"
	"fmt"
	"sort"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// reconcileActive makes cj.Status.Active the controlled Jobs that have not finished and moves
// lastSuccessfulTime up to the latest completion. An active reference whose Job is missing from
// the cache is checked against the API server, so that a lagging cache drops nothing.
func (c *Controller) reconcileActive(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) error {
	seen := make(map[types.UID]bool, len(jobs))
	for _, j := range jobs {
		seen[j.UID] = true
		done, cond := finished(j)
		switch {
		case !done && !inActive(cj, j):
			cj.Status.Active = append(cj.Status.Active, jobRef(j))
		case done && inActive(cj, j):
			c.recorder.Eventf(cj, corev1.EventTypeNormal, "SawCompletedJob", "saw completed job: %s, condition: %s", j.Name, cond)
			removeActive(cj, j.UID)
		}
		if cond == batchv1.JobComplete && j.Status.CompletionTime != nil {
			if last := cj.Status.LastSuccessfulTime; last == nil || last.Before(j.Status.CompletionTime) {
				t := *j.Status.CompletionTime
				cj.Status.LastSuccessfulTime = &t
			}
		}
	}
	for _, ref := range append([]corev1.ObjectReference(nil), cj.Status.Active...) {
		if seen[ref.UID] {
			continue
		}
		j, err := c.client.BatchV1().Jobs(cj.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err) || (err == nil && j.UID != ref.UID):
			c.recorder.Eventf(cj, corev1.EventTypeNormal, "MissingJob", "active job went missing: %v", ref.Name)
			removeActive(cj, ref.UID)
		case err != nil:
			return fmt.Errorf("cronjob: get active job %s: %w", ref.Name, err)
		}
	}
	return nil
}

func removeActive(cj *batchv1.CronJob, uid types.UID) {
	out := cj.Status.Active[:0]
	for _, r := range cj.Status.Active {
		if r.UID != uid {
			out = append(out, r)
		}
	}
	cj.Status.Active = out
	if len(out) == 0 {
		cj.Status.Active = nil
	}
}

// cleanupHistory deletes the oldest finished Jobs beyond successfulJobsHistoryLimit and
// failedJobsHistoryLimit (a nil limit keeps everything).
func (c *Controller) cleanupHistory(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) error {
	var ok, failed []*batchv1.Job
	for _, j := range jobs {
		if j.DeletionTimestamp != nil {
			continue
		}
		switch _, cond := finished(j); cond {
		case batchv1.JobComplete:
			ok = append(ok, j)
		case batchv1.JobFailed:
			failed = append(failed, j)
		}
	}
	if err := c.trim(ctx, cj, ok, cj.Spec.SuccessfulJobsHistoryLimit); err != nil {
		return err
	}
	return c.trim(ctx, cj, failed, cj.Spec.FailedJobsHistoryLimit)
}

// trim deletes the oldest of jobs (by start time, then name) until limit remain.
func (c *Controller) trim(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job, limit *int32) error {
	if limit == nil || len(jobs) <= int(*limit) {
		return nil
	}
	sort.Slice(jobs, func(a, b int) bool {
		ta, tb := started(jobs[a]), started(jobs[b])
		if !ta.Equal(&tb) {
			return ta.Before(&tb)
		}
		return jobs[a].Name < jobs[b].Name
	})
	for _, j := range jobs[:len(jobs)-int(*limit)] {
		err := c.deleteJob(ctx, j.Namespace, j.Name)
		if err != nil && !apierrors.IsNotFound(err) {
			c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedDelete", "deleted job %s: %v", j.Name, err)
			return fmt.Errorf("cronjob: delete finished job %s: %w", j.Name, err)
		}
		c.recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulDelete", "deleted job %s", j.Name)
	}
	return nil
}

func started(j *batchv1.Job) metav1.Time {
	if j.Status.StartTime != nil {
		return *j.Status.StartTime
	}
	return j.CreationTimestamp
}
