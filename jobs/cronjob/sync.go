package cronjob

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// sync brings one CronJob up to date and returns when it wants to be synced again (0: only
// on the next change).
func (c *Controller) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	cached, err := c.cronJobs.CronJobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cronjob: get %s: %w", key, err)
	}
	jobs, err := c.ownedJobs(cached)
	if err != nil {
		return 0, err
	}
	cj := cached.DeepCopy()
	if err := c.reconcileActive(ctx, cj, jobs); err != nil {
		return 0, err
	}
	after, syncErr := c.syncCronJob(ctx, cj)
	if !equality.Semantic.DeepEqual(cached.Status, cj.Status) {
		if _, err := c.client.BatchV1().CronJobs(ns).UpdateStatus(ctx, cj, metav1.UpdateOptions{}); err != nil {
			return 0, fmt.Errorf("cronjob: update status of %s: %w", key, err)
		}
	}
	if syncErr != nil {
		return 0, syncErr
	}
	if cj.DeletionTimestamp == nil {
		if err := c.cleanupHistory(ctx, cj, jobs); err != nil {
			return 0, err
		}
	}
	return after, nil
}

// ownedJobs lists the cached Jobs cj controls.
func (c *Controller) ownedJobs(cj *batchv1.CronJob) ([]*batchv1.Job, error) {
	objs, err := c.jobIndex.ByIndex(byController, string(cj.UID))
	if err != nil {
		return nil, fmt.Errorf("cronjob: jobs of %s/%s: %w", cj.Namespace, cj.Name, err)
	}
	out := make([]*batchv1.Job, 0, len(objs))
	for _, o := range objs {
		if j, ok := o.(*batchv1.Job); ok && j.Namespace == cj.Namespace {
			out = append(out, j)
		}
	}
	return out, nil
}

// syncCronJob decides whether a Job is due and creates it; it updates cj.Status in place.
func (c *Controller) syncCronJob(ctx context.Context, cj *batchv1.CronJob) (time.Duration, error) {
	if cj.DeletionTimestamp != nil {
		return 0, nil
	}
	if tz := cj.Spec.TimeZone; tz != nil {
		if _, err := time.LoadLocation(*tz); err != nil {
			c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnknownTimeZone", "invalid timeZone %q: %v", *tz, err)
			return 0, nil
		}
	}
	text, legacyTZ := scheduleText(cj)
	if legacyTZ {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnsupportedSchedule",
			"CRON_TZ or TZ used in schedule %q is not officially supported, use timeZone", cj.Spec.Schedule)
	}
	sched, err := parseSchedule(text)
	if err != nil {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnparseableSchedule", "unparseable schedule %q: %v", cj.Spec.Schedule, err)
		return 0, nil
	}
	if cj.Spec.Suspend != nil && *cj.Spec.Suspend {
		return 0, nil
	}
	now := c.now()
	after, ok := requeueAfter(sched, now)
	if !ok {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "InvalidSchedule", "schedule %q never fires", cj.Spec.Schedule)
		return 0, nil
	}
	m, err := mostRecent(cj, sched, now)
	if err != nil {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "InvalidSchedule", "%v", err)
		return 0, nil
	}
	if m.tooMany {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "TooManyMissedTimes",
			"too many missed start times (> %d); only the most recent, %s, is considered", maxMissed, m.at.Format(time.RFC3339))
	}
	if m.at.IsZero() {
		return after, nil
	}
	return after, c.runAt(ctx, cj, inZone(sched, m.at), now)
}

// runAt runs cj for schedule time t unless it is too late or the concurrency policy forbids it.
func (c *Controller) runAt(ctx context.Context, cj *batchv1.CronJob, t, now time.Time) error {
	if d := cj.Spec.StartingDeadlineSeconds; d != nil && t.Add(time.Duration(*d)*time.Second).Before(now) {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "MissSchedule", "missed scheduled time to start a job: %s", t.Format(time.RFC3339))
		return nil
	}
	switch cj.Spec.ConcurrencyPolicy {
	case batchv1.ForbidConcurrent:
		if len(cj.Status.Active) > 0 {
			c.recorder.Eventf(cj, corev1.EventTypeNormal, "JobAlreadyActive", "not starting job because prior execution is running and concurrency policy is Forbid")
			return nil
		}
	case batchv1.ReplaceConcurrent:
		if err := c.deleteActive(ctx, cj); err != nil {
			return err
		}
	}
	return c.createJob(ctx, cj, t)
}
