package job

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/drover-ci/drover/cluster/controller"
)

// sync brings one job closer to its spec: it finishes it, suspends or resumes it, or starts and
// stops pods, then writes its status.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.jobs.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.exp.Forget(key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("get job %s: %w", key, err)
	}
	if managedElsewhere(cached) {
		// Another controller runs this job (spec.managedBy): its pods and status are not ours.
		// Its ttlSecondsAfterFinished still applies, as Kubernetes' TTL-after-finished
		// controller (which does not look at managedBy) applies it.
		c.exp.Forget(key)
		c.finished.forget(key)
		if cond := finishedCondition(cached); cond != nil {
			return c.expireFinished(ctx, key, cached, cond)
		}
		return nil
	}
	if cond := finishedCondition(cached); cond != nil {
		return c.cleanUpFinished(ctx, key, cached, cond)
	}
	if c.finished.has(key, cached.UID) && !decided(cached) {
		// This controller decided the job's fate (finished it, or wrote FailureTarget or
		// SuccessCriteriaMet) and the informer has not shown it yet: acting on the stale copy
		// would start a replacement for the pods it has just deleted.
		c.enqueueAfter(key, staleRetry)
		return nil
	}
	// Read expectations before the pods: a pod seen after is already credited.
	if !c.exp.Satisfied(key) {
		// Pod events wake the job; this is the fallback should the informer never report them.
		c.enqueueAfter(key, controller.ExpectationsTimeout)
		return nil
	}
	pods, err := c.claimPods(ctx, cached)
	if err != nil {
		return err
	}
	job := cached.DeepCopy()
	now := c.clock.Now()
	s := classify(pods)
	st := &job.Status
	st.Succeeded = max(st.Succeeded, succeededCount(job, s))
	st.Failed = max(st.Failed, int32(len(countedFailures(job, s.failed))))
	if s.failedIndexes = failedIndexes(job, s); s.failedIndexes != nil {
		st.FailedIndexes = ptr(formatIndexes(sortedIndexes(s.failedIndexes)))
	}
	stopAfter, manageErr := c.manage(ctx, key, job, s, now)
	if err := c.writeStatus(ctx, cached, job); err != nil {
		// The pods of a job that finishes or fails are deleted only once its status says so:
		// deleted first, a Failed condition lost to a conflict could not be decided again
		// (an OnFailure pod's restarts go with it) and the job would start a replacement.
		return err
	}
	if decided(job) {
		c.finished.add(key, job.UID)
	}
	if len(stopAfter) > 0 {
		c.exp.Expect(key, 0, podKeys(stopAfter))
		manageErr = errors.Join(manageErr, controller.DeletePods(ctx, c.client, c.exp, c.recorder, key, job, stopAfter))
	}
	if left, ok := deadlineRemaining(job, now); ok && finishedCondition(job) == nil {
		c.enqueueAfter(key, left)
	}
	return manageErr
}

// manage decides the job's fate for this sync and acts on pods; it edits job.Status. The pods
// it returns are to be deleted once that status is written: those of a job that has just
// finished or is failing.
func (c *Controller) manage(ctx context.Context, key string, job *batchv1.Job, s podSet, now time.Time) ([]*corev1.Pod, error) {
	st := &job.Status
	// Success criteria met in an earlier sync come first, as in Kubernetes: the job completes
	// once its last pods are gone, whatever fails meanwhile.
	if sc := condition(st, batchv1.JobSuccessCriteriaMet); sc != nil && sc.Status == corev1.ConditionTrue {
		pods := succeed(job, s)
		completeOnceGone(job, sc.Reason, sc.Message, now, c.recorder)
		return pods, nil
	}
	// A failure the podFailurePolicy decided comes next, as in Kubernetes, suspended or not.
	if ft := condition(st, batchv1.JobFailureTarget); ft != nil && ft.Status == corev1.ConditionTrue {
		return nil, c.failTarget(ctx, key, job, s, ft.Reason, ft.Message, now)
	}
	if msg := failJobMessage(job, s.failed); msg != "" {
		setCondition(st, batchv1.JobFailureTarget, corev1.ConditionTrue, batchv1.JobReasonPodFailurePolicy, msg, now)
		pods := finish(job, s)
		failedOnceGone(job, s, batchv1.JobReasonPodFailurePolicy, msg, now, c.recorder)
		return pods, nil
	}
	if suspended(job) {
		if cond := condition(st, batchv1.JobSuspended); cond == nil || cond.Status != corev1.ConditionTrue {
			setCondition(st, batchv1.JobSuspended, corev1.ConditionTrue, ReasonSuspended, "Job suspended", now)
			c.recorder.Event(job, corev1.EventTypeNormal, "Suspended", "Job suspended")
		}
		return nil, c.stop(ctx, key, job, s)
	}
	if cond := condition(st, batchv1.JobSuspended); cond != nil && cond.Status == corev1.ConditionTrue {
		setCondition(st, batchv1.JobSuspended, corev1.ConditionFalse, ReasonResumed, "Job resumed", now)
		c.recorder.Event(job, corev1.EventTypeNormal, "Resumed", "Job resumed")
		st.StartTime = nil
	}
	if st.StartTime == nil {
		t := metav1.NewTime(now)
		st.StartTime = &t
	}
	// As Kubernetes 1.32's job controller (JobManagedBy and JobPodReplacementPolicy on by
	// default: "delayTerminalCondition"), a failing job first gets the interim FailureTarget
	// condition and its pods are stopped; Failed, with the same reason, follows once none runs.
	if reason, msg := failure(job, s, now); reason != "" {
		setCondition(st, batchv1.JobFailureTarget, corev1.ConditionTrue, reason, msg, now)
		pods := finish(job, s)
		failedOnceGone(job, s, reason, msg, now, c.recorder)
		return pods, nil
	}
	// A matching successPolicy rule (after the failures, as in Kubernetes) sets SuccessCriteriaMet
	// and stops the pods still running; Complete follows once they are gone.
	if msg, ok := matchSuccessPolicy(job); ok {
		setCondition(st, batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue, batchv1.JobReasonSuccessPolicy, msg, now)
		pods := succeed(job, s)
		completeOnceGone(job, batchv1.JobReasonSuccessPolicy, msg, now, c.recorder)
		return pods, nil
	}
	// Likewise a job that reached its completions first gets SuccessCriteriaMet, and Complete
	// (with CompletionTime) once none of its pods runs.
	if complete(job, s) {
		const msg = "Reached expected number of succeeded pods"
		setCondition(st, batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue, batchv1.JobReasonCompletionsReached, msg, now)
		pods := succeed(job, s)
		completeOnceGone(job, batchv1.JobReasonCompletionsReached, msg, now, c.recorder)
		return pods, nil
	}
	return nil, c.scale(ctx, key, job, s, now)
}

// failure is the reason the job fails now, if it does: its failed indexes first (with
// backoffLimitPerIndex), then the deadline, then the backoff limit.
func failure(job *batchv1.Job, s podSet, now time.Time) (reason, msg string) {
	if reason, msg := perIndexFailure(job, s.failedIndexes); reason != "" {
		return reason, msg
	}
	if left, ok := deadlineRemaining(job, now); ok && left <= 0 {
		return batchv1.JobReasonDeadlineExceeded, "Job was active longer than specified deadline"
	}
	if job.Status.Failed > backoffLimit(job) || pastBackoffLimitOnFailure(job, s) {
		return batchv1.JobReasonBackoffLimitExceeded, "Job has reached the specified backoff limit"
	}
	return "", ""
}

// failTarget acts on a job with the FailureTarget condition (Kubernetes' interim condition
// before Failed) set by an earlier sync: it deletes any pod still active and, once no pod runs
// or terminates, adds the Failed condition with the same reason and message.
func (c *Controller) failTarget(ctx context.Context, key string, job *batchv1.Job, s podSet, reason, msg string, now time.Time) error {
	err := c.stop(ctx, key, job, s)
	failedOnceGone(job, s, reason, msg, now, c.recorder)
	return err
}

// failedOnceGone adds the Failed condition of a job with FailureTarget when no pod of it runs or
// terminates any more (job.Status.Terminating counts both once the active pods are stopped).
func failedOnceGone(job *batchv1.Job, s podSet, reason, msg string, now time.Time, rec record.EventRecorder) {
	if *job.Status.Terminating != 0 {
		return
	}
	setCondition(&job.Status, batchv1.JobFailed, corev1.ConditionTrue, reason, msg, now)
	rec.Event(job, corev1.EventTypeWarning, reason, msg)
}

// complete reports whether the job has succeeded.
func complete(job *batchv1.Job, s podSet) bool {
	if job.Spec.Completions == nil {
		return job.Status.Succeeded > 0 && len(s.active) == 0
	}
	return job.Status.Succeeded >= *job.Spec.Completions
}

// finish reports none of the job's pods active, the active ones counted failed ("when the job
// is considered finished, every non-terminated pod is considered failed", as in Kubernetes) and
// terminating, and returns them for deletion once the status is written.
func finish(job *batchv1.Job, s podSet) []*corev1.Pod {
	job.Status.Active = 0
	job.Status.Ready = ptr(int32(0))
	job.Status.Terminating = ptr(int32(len(s.terminating) + len(s.active)))
	job.Status.Failed += int32(len(s.active))
	return s.active
}

// stop deletes the job's active pods and reports none active (a suspended job, or the pods
// still active under a FailureTarget).
func (c *Controller) stop(ctx context.Context, key string, job *batchv1.Job, s podSet) error {
	job.Status.Active = 0
	job.Status.Ready = ptr(int32(0))
	job.Status.Terminating = ptr(int32(len(s.terminating) + len(s.active)))
	if len(s.active) == 0 {
		return nil
	}
	c.exp.Expect(key, 0, podKeys(s.active))
	return controller.DeletePods(ctx, c.client, c.exp, c.recorder, key, job, s.active)
}

// scale starts or stops pods so that wantActive run, waiting out the failure back-off first.
func (c *Controller) scale(ctx context.Context, key string, job *batchv1.Job, s podSet, now time.Time) error {
	want := int(wantActive(job, job.Status.Succeeded, int32(len(s.active))))
	active := s.active
	var victims []*corev1.Pod
	if indexed(job) {
		active, victims = dedupeIndexes(job, s)
	}
	if extra := len(active) - want; extra > 0 {
		victims = append(victims, newestFirst(active)[:extra]...)
	}
	st := &job.Status
	st.Active = int32(len(s.active) - len(victims))
	st.Ready = ptr(ready(s.active))
	st.Terminating = ptr(int32(len(s.terminating) + len(victims)))
	if len(victims) > 0 {
		c.exp.Expect(key, 0, podKeys(victims))
		return controller.DeletePods(ctx, c.client, c.exp, c.recorder, key, job, victims)
	}
	n := want - len(active)
	if onlyReplaceFailed(job) {
		n -= len(s.terminating)
	}
	if n <= 0 {
		return nil
	}
	var failures map[int]*indexFailures
	indexes := slices.Repeat([]int{-1}, n)
	switch {
	case perIndex(job):
		// Each index waits out the back-off of its own failures.
		var wait time.Duration
		indexes, wait = readyIndexes(job, s, pendingIndexes(job, s, int(*job.Spec.Completions)), now)
		indexes = indexes[:min(n, len(indexes))]
		if wait > 0 {
			c.enqueueAfter(key, wait)
		}
		failures = failuresByIndex(job, s)
	case backoffRemaining(s, now) > 0:
		c.enqueueAfter(key, backoffRemaining(s, now))
		return nil
	case indexed(job):
		indexes = pendingIndexes(job, s, n)
	}
	if len(indexes) == 0 {
		return nil
	}
	c.exp.Expect(key, len(indexes), nil)
	st.Active += int32(len(indexes))
	return c.createPods(ctx, key, job, indexes, failures)
}

// ownedPods lists the pods the job's selector matches and the job controls.
func (c *Controller) ownedPods(job *batchv1.Job) ([]*corev1.Pod, error) {
	if job.Spec.Selector == nil {
		return nil, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("job %s/%s selector: %w", job.Namespace, job.Name, err)
	}
	if sel.Empty() {
		sel = labels.Nothing()
	}
	all, err := c.pods.Pods(job.Namespace).List(sel)
	if err != nil {
		return nil, fmt.Errorf("list pods of job %s/%s: %w", job.Namespace, job.Name, err)
	}
	var out []*corev1.Pod
	for _, p := range all {
		if ref := metav1.GetControllerOf(p); ref != nil && ref.UID == job.UID {
			out = append(out, p)
		}
	}
	return out, nil
}

// writeStatus updates the job's status when it changed.
func (c *Controller) writeStatus(ctx context.Context, old, job *batchv1.Job) error {
	if apiequality.Semantic.DeepEqual(old.Status, job.Status) {
		return nil
	}
	if _, err := c.client.BatchV1().Jobs(job.Namespace).UpdateStatus(ctx, job, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update status of job %s/%s: %w", job.Namespace, job.Name, err)
	}
	return nil
}

// cleanUpFinished deletes the pods of a finished job that still run (none should; one created
// before the job finished is stopped), keeps status.terminating up to date while its pods go,
// and deletes the job once ttlSecondsAfterFinished have passed.
func (c *Controller) cleanUpFinished(ctx context.Context, key string, job *batchv1.Job, cond *batchv1.JobCondition) error {
	c.finished.forget(key)
	if err := c.stopFinished(ctx, key, job); err != nil {
		return err
	}
	return c.expireFinished(ctx, key, job, cond)
}

// expireFinished deletes a finished job once its ttlSecondsAfterFinished have passed, or
// requeues it for then.
func (c *Controller) expireFinished(ctx context.Context, key string, job *batchv1.Job, cond *batchv1.JobCondition) error {
	if job.Spec.TTLSecondsAfterFinished == nil || job.DeletionTimestamp != nil {
		return nil
	}
	finished := cond.LastTransitionTime.Time
	if job.Status.CompletionTime != nil {
		finished = job.Status.CompletionTime.Time
	}
	left := finished.Add(time.Duration(*job.Spec.TTLSecondsAfterFinished) * time.Second).Sub(c.clock.Now())
	if left > 0 {
		c.enqueueAfter(key, left)
		return nil
	}
	err := c.deleteJob(ctx, job)
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete finished job %s: %w", key, err)
	}
	return nil
}

// stopFinished deletes the active pods of a finished job and writes its active, ready and
// terminating counts.
func (c *Controller) stopFinished(ctx context.Context, key string, cached *batchv1.Job) error {
	if !c.exp.Satisfied(key) {
		c.enqueueAfter(key, controller.ExpectationsTimeout)
		return nil
	}
	pods, err := c.ownedPods(cached)
	if err != nil {
		return err
	}
	s := classify(pods)
	job := cached.DeepCopy()
	job.Status.Active = 0
	job.Status.Ready = ptr(int32(0))
	job.Status.Terminating = ptr(int32(len(s.terminating) + len(s.active)))
	if err := c.writeStatus(ctx, cached, job); err != nil {
		return err
	}
	if len(s.active) == 0 {
		return nil
	}
	c.exp.Expect(key, 0, podKeys(s.active))
	return controller.DeletePods(ctx, c.client, c.exp, c.recorder, key, job, s.active)
}

// deleteJob deletes the job with background propagation, if it is still the same job.
func (c *Controller) deleteJob(ctx context.Context, job *batchv1.Job) error {
	bg := metav1.DeletePropagationBackground
	return c.client.BatchV1().Jobs(job.Namespace).Delete(ctx, job.Name, metav1.DeleteOptions{
		PropagationPolicy: &bg, Preconditions: &metav1.Preconditions{UID: &job.UID}})
}

func podKeys(pods []*corev1.Pod) []string {
	out := make([]string, len(pods))
	for i, p := range pods {
		out[i] = podKey(p)
	}
	return out
}

func ptr[T any](v T) *T { return &v }
