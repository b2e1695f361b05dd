// Package podautoscaler is the autoscaling/v2 HorizontalPodAutoscaler controller (Kubernetes
// 1.32's pkg/controller/podautoscaler) for resource metrics: every SyncPeriod (15 s) it reads
// the target's scale subresource (ReplicationController, ReplicaSet, Deployment, StatefulSet),
// the usage of the pods the scale's selector matches from metrics.k8s.io (CPU and memory, as
// Utilization of the pods' requests or as AverageValue), computes the replica count with
// Kubernetes' algorithm (tolerance 0.1, unready and missing pods, the CPU initialization
// period), stabilizes it (the 5-minute scale-down window, or the HPA's behavior: windows and
// Pods/Percent policies with selectPolicy), bounds it by minReplicas and maxReplicas, writes
// the scale, and reports status (currentReplicas, desiredReplicas, currentMetrics,
// lastScaleTime, the AbleToScale, ScalingActive and ScalingLimited conditions) and events
// (SuccessfulRescale and the Failed* warnings) with Kubernetes' reasons and messages.
// Recommendations and scale events are kept in memory, as Kubernetes does.
package podautoscaler

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	autoscalinglisters "k8s.io/client-go/listers/autoscaling/v2"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	metricsv1beta1 "k8s.io/metrics/pkg/client/clientset/versioned/typed/metrics/v1beta1"
	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cluster/controller"
)

// Kubernetes' defaults: --horizontal-pod-autoscaler-sync-period and the component name of its
// events.
const (
	SyncPeriod = 15 * time.Second
	Component  = "horizontal-pod-autoscaler"
)

// Controller is the HorizontalPodAutoscaler controller.
type Controller struct {
	client   kubernetes.Interface
	metrics  metricsv1beta1.MetricsV1beta1Interface
	hpas     autoscalinglisters.HorizontalPodAutoscalerLister
	pods     corelisters.PodLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	recorder record.EventRecorder
	clock    clock.WithTicker
	log      *slog.Logger
	workers  int
	scales   scaler
	calc     calculator
	history  *history
	period   time.Duration
}

// New builds the controller from the manager's context.
func New(cc controller.Context) (*Controller, error) {
	hpaInf := cc.Informers.Autoscaling().V2().HorizontalPodAutoscalers()
	podInf := cc.Informers.Core().V1().Pods()
	clk := cc.ClockOrReal()
	c := &Controller{
		client: cc.Client, metrics: cc.Metrics,
		hpas: hpaInf.Lister(), pods: podInf.Lister(),
		synced: []cache.InformerSynced{hpaInf.Informer().HasSynced, podInf.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "horizontalpodautoscaler", Clock: clk}),
		recorder: cc.EventRecorder(Component),
		clock:    clk,
		log:      cc.LoggerOrDiscard(),
		workers:  cc.Options.WithDefaults().Workers,
		scales:   scaler{client: cc.Client},
		calc: calculator{tolerance: defaultTolerance, cpuInitializationPeriod: defaultCPUInitializationPeriod,
			initialReadinessDelay: defaultInitialReadinessDelay},
		history: newHistory(defaultDownscaleStabilization),
		period:  SyncPeriod,
	}
	if _, err := hpaInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueue, UpdateFunc: func(_, n interface{}) { c.enqueue(n) }, DeleteFunc: c.enqueue,
	}); err != nil {
		return nil, fmt.Errorf("podautoscaler: hpa handler: %w", err)
	}
	return c, nil
}

// Name is "podautoscaler" (Kubernetes calls it horizontalpodautoscaling).
func (c *Controller) Name() string { return "podautoscaler" }

// Run works until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return controller.RunWorkers(ctx, c.log, c.queue, c.synced, c.workers, c.sync)
}

func (c *Controller) enqueue(obj interface{}) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

// sync reconciles one HPA and asks to see it again a sync period later.
func (c *Controller) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	cached, err := c.hpas.HorizontalPodAutoscalers(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.history.forget(key)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	hpa := cached.DeepCopy()
	if hpa.Spec.MinReplicas == nil {
		one := int32(1)
		hpa.Spec.MinReplicas = &one
	}
	if err := c.reconcile(ctx, key, hpa); err != nil {
		return 0, err
	}
	return c.period, nil
}

// updateStatus writes hpa's status when it differs from old's.
func (c *Controller) updateStatus(ctx context.Context, old, hpa *autoscalingv2.HorizontalPodAutoscaler) error {
	if equality.Semantic.DeepEqual(old.Status, hpa.Status) {
		return nil
	}
	_, err := c.client.AutoscalingV2().HorizontalPodAutoscalers(hpa.Namespace).UpdateStatus(ctx, hpa, metav1UpdateOptions)
	if err != nil {
		c.recorder.Event(hpa, "Warning", "FailedUpdateStatus", err.Error())
		return fmt.Errorf("failed to update status for %s: %w", hpa.Name, err)
	}
	return nil
}
