package job

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cluster/controller"
)

// JobCompletionIndexEnv is the environment variable that carries an Indexed Job pod's index.
const JobCompletionIndexEnv = "JOB_COMPLETION_INDEX"

// podSet is a job's owned pods by state: terminating ones are being deleted but have not
// finished (Kubernetes' status.terminating counts them).
type podSet struct {
	active, succeeded, failed, terminating []*corev1.Pod
	// failedIndexes are the indexes that failed, with backoffLimitPerIndex (else nil).
	failedIndexes map[int]bool
}

func classify(pods []*corev1.Pod) podSet {
	var s podSet
	for _, p := range pods {
		switch {
		case p.Status.Phase == corev1.PodSucceeded:
			s.succeeded = append(s.succeeded, p)
		case p.Status.Phase == corev1.PodFailed:
			s.failed = append(s.failed, p)
		case p.DeletionTimestamp != nil:
			s.terminating = append(s.terminating, p)
		default:
			s.active = append(s.active, p)
		}
	}
	return s
}

// ready counts the pods whose Ready condition is true.
func ready(pods []*corev1.Pod) int32 {
	var n int32
	for _, p := range pods {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				n++
			}
		}
	}
	return n
}

// podIndex is an Indexed Job pod's completion index, or -1.
func podIndex(p *corev1.Pod) int {
	v, ok := p.Annotations[batchv1.JobCompletionIndexAnnotation]
	if !ok {
		v, ok = p.Labels[batchv1.JobCompletionIndexAnnotation]
	}
	if !ok {
		return -1
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 {
		return -1
	}
	return i
}

// finishTime is when a finished pod ended: its last container termination, else its latest
// condition transition, else its creation.
func finishTime(p *corev1.Pod) time.Time {
	var t time.Time
	for _, cs := range slices.Concat(p.Status.InitContainerStatuses, p.Status.ContainerStatuses) {
		if term := cs.State.Terminated; term != nil && term.FinishedAt.After(t) {
			t = term.FinishedAt.Time
		}
	}
	if !t.IsZero() {
		return t
	}
	for _, c := range p.Status.Conditions {
		if c.LastTransitionTime.After(t) {
			t = c.LastTransitionTime.Time
		}
	}
	if t.IsZero() {
		t = p.CreationTimestamp.Time
	}
	return t
}

// podForJob is the pod the job creates: its template with a controller reference to the job
// and, for index >= 0, the completion index annotation, label, env and hostname.
func podForJob(job *batchv1.Job, index int) *corev1.Pod {
	pod := controller.PodFromTemplate(&job.Spec.Template, job, jobKind)
	if index < 0 {
		return pod
	}
	idx := strconv.Itoa(index)
	pod.GenerateName = job.Name + "-" + idx + "-"
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Annotations[batchv1.JobCompletionIndexAnnotation] = idx
	pod.Labels[batchv1.JobCompletionIndexAnnotation] = idx
	if pod.Spec.Hostname == "" {
		pod.Spec.Hostname = job.Name + "-" + idx
	}
	env := corev1.EnvVar{Name: JobCompletionIndexEnv, Value: idx}
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			cs[i].Env = append(cs[i].Env, env)
		}
	}
	return pod
}

// createPods creates one pod per entry of indexes (-1: NonIndexed), all in parallel, having
// recorded the expectation; creates that fail are no longer expected. With backoffLimitPerIndex
// each pod carries its index's failures so far.
func (c *Controller) createPods(ctx context.Context, key string, job *batchv1.Job, indexes []int, failures map[int]*indexFailures) error {
	var wg sync.WaitGroup
	errs := make([]error, len(indexes))
	for i, idx := range indexes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pod := podForJob(job, idx)
			if perIndex(job) {
				annotateFailures(pod, failures[idx])
			}
			pod, err := c.client.CoreV1().Pods(job.Namespace).Create(ctx, pod, metav1.CreateOptions{})
			if err != nil {
				c.exp.CreationObserved(key)
				c.recorder.Eventf(job, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
				errs[i] = fmt.Errorf("create pod for job %s: %w", key, err)
				return
			}
			c.recorder.Eventf(job, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", pod.Name)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// newestFirst orders pods so that the ones to delete first (highest index, newest) lead.
func newestFirst(pods []*corev1.Pod) []*corev1.Pod {
	out := slices.Clone(pods)
	sort.SliceStable(out, func(i, j int) bool {
		if a, b := podIndex(out[i]), podIndex(out[j]); a != b {
			return a > b
		}
		return out[j].CreationTimestamp.Before(&out[i].CreationTimestamp)
	})
	return out
}
