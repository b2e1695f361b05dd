// Package cronjob is the batch/v1 CronJob controller, after Kubernetes' pkg/controller/cronjob
// (v2): it parses each schedule with github.com/robfig/cron/v3, creates at most one Job for the
// most recent missed schedule time, honours concurrencyPolicy, startingDeadlineSeconds, suspend
// and the history limits, and requeues the CronJob at its next schedule time. It never runs
// cron's own goroutines; time comes from the controller Context's clock.
package cronjob

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cluster/controller"
)

// Component is the source of the events the controller records.
const Component = "cronjob-controller"

var cronJobKind = batchv1.SchemeGroupVersion.WithKind("CronJob")

// Controller is the CronJob controller.
type Controller struct {
	client   kubernetes.Interface
	cronJobs batchlisters.CronJobLister
	jobIndex cache.Indexer
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	recorder record.EventRecorder
	clock    clock.WithTicker
	workers  int
	log      *slog.Logger
}

// New builds the CronJob controller from the manager's context.
func New(cc controller.Context) (*Controller, error) {
	cjInf := cc.Informers.Batch().V1().CronJobs()
	jobInf := cc.Informers.Batch().V1().Jobs()
	clk := cc.ClockOrReal()
	c := &Controller{
		client:   cc.Client,
		cronJobs: cjInf.Lister(),
		synced:   []cache.InformerSynced{cjInf.Informer().HasSynced, jobInf.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "cronjob", Clock: clk}),
		clock:   clk,
		workers: cc.Options.WithDefaults().Workers,
		log:     cc.LoggerOrDiscard(),
	}
	c.recorder = cc.EventRecorder(Component)
	if _, err := cjInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: c.updateCronJob,
		DeleteFunc: c.enqueue,
	}); err != nil {
		return nil, fmt.Errorf("cronjob: cronjob handler: %w", err)
	}
	if err := jobInf.Informer().AddIndexers(cache.Indexers{byController: controllerUID}); err != nil {
		return nil, fmt.Errorf("cronjob: job index: %w", err)
	}
	c.jobIndex = jobInf.Informer().GetIndexer()
	if _, err := jobInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.jobChanged,
		UpdateFunc: func(_, n interface{}) { c.jobChanged(n) },
		DeleteFunc: c.jobChanged,
	}); err != nil {
		return nil, fmt.Errorf("cronjob: job handler: %w", err)
	}
	return c, nil
}

// Name is "cronjob".
func (c *Controller) Name() string { return "cronjob" }

// Run works until ctx ends; each sync says when the CronJob is next due.
func (c *Controller) Run(ctx context.Context) error {
	return controller.RunWorkers(ctx, c.log, c.queue, c.synced, c.workers, c.sync)
}

func (c *Controller) enqueue(obj interface{}) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

// updateCronJob syncs every change at once, so that a new schedule, time zone or suspension
// takes effect without waiting for the requeue of the old schedule.
func (c *Controller) updateCronJob(_, n interface{}) { c.enqueue(n) }

// jobChanged enqueues the CronJob that controls a Job.
func (c *Controller) jobChanged(obj interface{}) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	job, ok := obj.(*batchv1.Job)
	if !ok {
		return
	}
	ref := metav1.GetControllerOf(job)
	if ref == nil || ref.Kind != cronJobKind.Kind || ref.APIVersion != cronJobKind.GroupVersion().String() {
		return
	}
	c.queue.Add(job.Namespace + "/" + ref.Name)
}

// byController indexes Jobs by the UID of their controller.
const byController = "cronjob.controllerUID"

func controllerUID(obj interface{}) ([]string, error) {
	j, ok := obj.(*batchv1.Job)
	if !ok {
		return nil, nil
	}
	if ref := metav1.GetControllerOf(j); ref != nil {
		return []string{string(ref.UID)}, nil
	}
	return nil, nil
}

// now is the controller's clock.
func (c *Controller) now() time.Time { return c.clock.Now() }
