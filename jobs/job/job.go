// Package job is the batch/v1 Job controller: it runs a Job's pods to completion following
// Kubernetes' pkg/controller/job in compact form — completions and parallelism, NonIndexed and
// Indexed completion modes, backoffLimit with exponential back-off between pod failures,
// activeDeadlineSeconds, suspend, ttlSecondsAfterFinished, podFailurePolicy (FailJob, Ignore,
// Count, FailIndex; the FailureTarget condition before Failed), podReplacementPolicy,
// backoffLimitPerIndex and maxFailedIndexes, successPolicy (the SuccessCriteriaMet condition
// before Complete) — and reports the Job's status. A Job whose spec.managedBy names another
// controller is left to it.
// Finished pods are kept (their logs stay) until the Job is deleted; the API server's garbage
// collector then removes them through their controller ownerReference. A finished Job's pods
// that still run are deleted (counted failed, and in status.terminating until they are gone),
// and a Job this controller has just finished is never acted on from a stale informer copy.
package job

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cluster/controller"
)

// Component is the source of the events the controller records.
const Component = "job-controller"

var jobKind = batchv1.SchemeGroupVersion.WithKind("Job")

// Controller is the Job controller.
type Controller struct {
	client   kubernetes.Interface
	jobs     batchlisters.JobLister
	pods     corelisters.PodLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	exp      *controller.Expectations
	finished finishedJobs
	recorder record.EventRecorder
	clock    clock.Clock
	workers  int
	log      *slog.Logger
}

// New builds the Job controller from the manager's context.
func New(cc controller.Context) (*Controller, error) {
	jobInf := cc.Informers.Batch().V1().Jobs()
	podInf := cc.Informers.Core().V1().Pods()
	clk := cc.ClockOrReal()
	c := &Controller{
		client:   cc.Client,
		jobs:     jobInf.Lister(),
		pods:     podInf.Lister(),
		synced:   []cache.InformerSynced{jobInf.Informer().HasSynced, podInf.Informer().HasSynced},
		queue:    workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		exp:      controller.NewExpectations(clk),
		recorder: cc.EventRecorder(Component),
		clock:    clk,
		workers:  cc.Options.WithDefaults().Workers,
		log:      cc.LoggerOrDiscard(),
	}
	if _, err := jobInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, n interface{}) { c.enqueue(n) },
		DeleteFunc: c.jobDeleted,
	}); err != nil {
		return nil, fmt.Errorf("job: job handler: %w", err)
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: func(_, n interface{}) { c.updatePod(n) },
		DeleteFunc: c.deletePod,
	}); err != nil {
		return nil, fmt.Errorf("job: pod handler: %w", err)
	}
	return c, nil
}

// Name is "job".
func (c *Controller) Name() string { return "job" }

// Run works until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return controller.RunWorkers(ctx, c.log, c.queue, c.synced, c.workers, controller.NoRequeue(c.sync))
}

func (c *Controller) enqueue(obj interface{}) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

func (c *Controller) enqueueAfter(key string, d time.Duration) { c.queue.AddAfter(key, d) }

func (c *Controller) jobDeleted(obj interface{}) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.exp.Forget(key)
		c.finished.forget(key)
		c.queue.Add(key)
	}
}

// addPod credits a creation to the pod's job.
func (c *Controller) addPod(obj interface{}) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		c.deletePod(pod)
		return
	}
	if key, ok := c.ownerKey(pod); ok {
		c.exp.CreationObserved(key)
		c.queue.Add(key)
	} else if metav1.GetControllerOf(pod) == nil {
		c.enqueueSelecting(pod) // an orphan: a job selecting it may adopt it
	}
}

// updatePod wakes the pod's job; a pod being deleted counts as its deletion at once.
func (c *Controller) updatePod(obj interface{}) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		c.deletePod(pod)
		return
	}
	if key, ok := c.ownerKey(pod); ok {
		c.queue.Add(key)
	} else if metav1.GetControllerOf(pod) == nil {
		c.enqueueSelecting(pod) // an orphan: a job selecting it may adopt it
	}
}

// deletePod credits a deletion to the pod's job.
func (c *Controller) deletePod(obj interface{}) {
	pod, ok := controller.DeletedPod(obj)
	if !ok {
		return
	}
	if key, ok := c.ownerKey(pod); ok {
		c.exp.DeletionObserved(key, podKey(pod))
		c.queue.Add(key)
	}
}

// ownerKey is the key of the Job that controls pod, if it still exists.
func (c *Controller) ownerKey(pod *corev1.Pod) (string, bool) {
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != jobKind.Kind || ref.APIVersion != jobKind.GroupVersion().String() {
		return "", false
	}
	j, err := c.jobs.Jobs(pod.Namespace).Get(ref.Name)
	if err != nil || j.UID != ref.UID {
		return "", false
	}
	return pod.Namespace + "/" + j.Name, true
}

var podKey = controller.PodKey
