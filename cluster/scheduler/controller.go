package scheduler

import (
	"context"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cluster/controller"
)

// SchedulerName is the spec.schedulerName of the pods this scheduler places ("" means it too).
const SchedulerName = corev1.DefaultSchedulerName

const (
	// BindWorkers is how many bindings (and status updates) are in flight at once.
	BindWorkers = 32
	// RetryPeriod: unschedulable pods are tried again at least this often.
	RetryPeriod = 30 * time.Second
	// assumedTTL: a pod bound this long ago and not yet seen bound is checked against the lister.
	assumedTTL = time.Minute
)

// Controller is the scheduler: it binds every pending pod of the default scheduler to a node.
// One goroutine places pods (Schedule over the incremental snapshot, then assume), several
// bind them; pods that fit nowhere wait in a parking lot until the cluster changes.
type Controller struct {
	client   kubernetes.Interface
	pods     corelisters.PodLister
	synced   []cache.InformerSynced
	recorder record.EventRecorder
	clock    clock.WithTicker
	cache    *schedCache
	queue    workqueue.TypedRateLimitingInterface[string]
	parked   *parking
	jobs     chan func(context.Context)
	log      *slog.Logger
}

// NewController builds the scheduler from the controller manager's context.
func NewController(cc controller.Context) (*Controller, error) {
	clk := cc.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	queue := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "scheduler"})
	c := &Controller{
		client:   cc.Client,
		pods:     cc.Informers.Core().V1().Pods().Lister(),
		recorder: cc.Recorder(SchedulerName),
		clock:    clk,
		cache:    newSchedCache(),
		queue:    queue,
		parked:   newParking(queue),
		jobs:     make(chan func(context.Context), 4*BindWorkers),
		log:      cc.LoggerOrDiscard(),
	}
	if err := c.watch(cc); err != nil {
		return nil, err
	}
	return c, nil
}

// Name is "scheduler".
func (c *Controller) Name() string { return "scheduler" }

// Run schedules until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	stop := controller.ShutDownOnDone(ctx, c.queue)
	defer stop()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return ctx.Err()
	}
	// Run returns only when every goroutine it started has finished, so that the next term's
	// scheduler never overlaps a binding of this one.
	var wg sync.WaitGroup
	for range BindWorkers {
		wg.Go(func() { c.runJobs(ctx) })
	}
	wg.Go(func() { c.periodic(ctx) })
	for c.scheduleNext(ctx) {
	}
	wg.Wait()
	return nil
}

func (c *Controller) runJobs(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case job := <-c.jobs:
			job(ctx)
		}
	}
}

// submit hands a binding or a status update to the workers.
func (c *Controller) submit(ctx context.Context, job func(context.Context)) {
	select {
	case c.jobs <- job:
	case <-ctx.Done():
	}
}

// periodic retries the parked pods every RetryPeriod and drops assumed pods that vanished.
func (c *Controller) periodic(ctx context.Context) {
	t := c.clock.NewTicker(RetryPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			c.parked.moveAll()
			c.cache.expire(c.clock.Now().Add(-assumedTTL), c.assumedGone)
		}
	}
}

// assumedGone: the lister has no pod of that name and uid still waiting to be seen bound.
func (c *Controller) assumedGone(namespace, name, uid string) bool {
	pod, err := c.pods.Pods(namespace).Get(name)
	return err != nil || string(pod.UID) != uid
}

// responsible reports whether the pod waits for this scheduler.
func responsible(pod *corev1.Pod) bool {
	return pod.Spec.NodeName == "" && pod.DeletionTimestamp == nil &&
		(pod.Spec.SchedulerName == "" || pod.Spec.SchedulerName == SchedulerName) &&
		pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}

func terminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}
