package cronjob

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// background is the propagation policy of every delete: the Job goes now, its pods after it.
var background = metav1.DeletePropagationBackground

// createJob creates the Job of schedule time t and records it in cj.Status. A Job of that name
// that cj already controls (created by an earlier run of the controller) counts as created.
func (c *Controller) createJob(ctx context.Context, cj *batchv1.CronJob, t time.Time) error {
	job, err := c.client.BatchV1().Jobs(cj.Namespace).Create(ctx, jobFor(cj, t), metav1.CreateOptions{})
	switch {
	case apierrors.IsAlreadyExists(err):
		job, err = c.client.BatchV1().Jobs(cj.Namespace).Get(ctx, JobName(cj.Name, t), metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("cronjob: get existing job: %w", err)
		}
		if ref := metav1.GetControllerOf(job); ref == nil || ref.UID != cj.UID {
			c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedCreate", "job %s exists and is not controlled by this cronjob", job.Name)
			return nil
		}
	case err != nil:
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedCreate", "error creating job: %v", err)
		return fmt.Errorf("cronjob: create job for %s/%s: %w", cj.Namespace, cj.Name, err)
	default:
		c.recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulCreate", "created job %s", job.Name)
	}
	if done, _ := finished(job); !done && !inActive(cj, job) {
		cj.Status.Active = append(cj.Status.Active, jobRef(job))
	}
	st := metav1.NewTime(t)
	cj.Status.LastScheduleTime = &st
	return nil
}

// deleteActive deletes every active Job of cj (concurrencyPolicy Replace).
func (c *Controller) deleteActive(ctx context.Context, cj *batchv1.CronJob) error {
	for len(cj.Status.Active) > 0 {
		ref := cj.Status.Active[0]
		err := c.deleteJob(ctx, ref.Namespace, ref.Name)
		if err != nil && !apierrors.IsNotFound(err) {
			c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedDelete", "deleted job %s: %v", ref.Name, err)
			return fmt.Errorf("cronjob: delete active job %s: %w", ref.Name, err)
		}
		c.recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulDelete", "deleted job %s", ref.Name)
		cj.Status.Active = cj.Status.Active[1:]
	}
	return nil
}

// deleteJob deletes a Job with background propagation (its pods go with it).
func (c *Controller) deleteJob(ctx context.Context, ns, name string) error {
	return c.client.BatchV1().Jobs(ns).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &background})
}

func inActive(cj *batchv1.CronJob, j *batchv1.Job) bool {
	for _, r := range cj.Status.Active {
		if r.UID == j.UID {
			return true
		}
	}
	return false
}
