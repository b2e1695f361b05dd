// Package endpointslice is the EndpointSlice controller: for every Service with a selector it
// keeps discovery.k8s.io/v1 EndpointSlices listing the selected pods (IPv4, at most 100
// endpoints a slice, one set of slices per distinct list of resolved ports), labelled
// kubernetes.io/service-name and endpointslice.kubernetes.io/managed-by, owned by the Service,
// with the ready, serving and terminating conditions, node name and pod reference of each
// endpoint, as Kubernetes' endpointslice-controller.k8s.io writes them.
package endpointslice

import (
	"context"
	"log/slog"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cluster/controller"
)

// ControllerName is the managed-by label value of the slices this controller writes.
const ControllerName = "endpointslice-controller.k8s.io"

// MaxEndpointsPerSlice is Kubernetes' default --max-endpoints-per-slice.
const MaxEndpointsPerSlice = 100

// Controller keeps EndpointSlices in step with Services and pods.
type Controller struct {
	client   kubernetes.Interface
	services corelisters.ServiceLister
	pods     corelisters.PodLister
	slices   discoverylisters.EndpointSliceLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	writer   writer
	workers  int
	log      *slog.Logger
	// maxPerSlice is MaxEndpointsPerSlice (tests lower it).
	maxPerSlice int
}

// New builds the controller from the manager's context.
func New(cc controller.Context) (*Controller, error) {
	svcInf := cc.Informers.Core().V1().Services()
	podInf := cc.Informers.Core().V1().Pods()
	esInf := cc.Informers.Discovery().V1().EndpointSlices()
	var clk clock.PassiveClock = clock.RealClock{}
	if cc.Clock != nil {
		clk = cc.Clock
	}
	c := &Controller{
		client: cc.Client, services: svcInf.Lister(), pods: podInf.Lister(), slices: esInf.Lister(),
		synced:  []cache.InformerSynced{svcInf.Informer().HasSynced, podInf.Informer().HasSynced, esInf.Informer().HasSynced},
		queue:   workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		writer:  writer{client: cc.Client, expect: controller.NewExpectations(clk), clock: clk},
		workers: cc.Options.WithDefaults().Workers, log: cc.LoggerOrDiscard(), maxPerSlice: MaxEndpointsPerSlice,
	}
	enqueueSvc := func(obj interface{}) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			c.queue.Add(key)
		}
	}
	if _, err := svcInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueueSvc, UpdateFunc: func(_, n interface{}) { enqueueSvc(n) }, DeleteFunc: enqueueSvc,
	}); err != nil {
		return nil, err
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.podChanged,
		UpdateFunc: func(o, n interface{}) { c.podChanged(o); c.podChanged(n) },
		DeleteFunc: c.podChanged,
	}); err != nil {
		return nil, err
	}
	if _, err := esInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj interface{}) { c.sliceChanged(obj, sliceAdded) },
		UpdateFunc: func(_, n interface{}) { c.sliceChanged(n, sliceUpdated) },
		DeleteFunc: func(obj interface{}) { c.sliceChanged(obj, sliceDeleted) },
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Name is "endpointslice".
func (c *Controller) Name() string { return "endpointslice" }

// Run works until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return controller.RunWorkers(ctx, c.log, c.queue, c.synced, c.workers, controller.NoRequeue(c.sync))
}

// podChanged queues the services in the pod's namespace that select it.
func (c *Controller) podChanged(obj interface{}) {
	for _, key := range controller.ServicesSelecting(c.services, obj) {
		c.queue.Add(key)
	}
}

type sliceEvent int

const (
	sliceAdded sliceEvent = iota
	sliceUpdated
	sliceDeleted
)

// sliceChanged records a managed slice's creation or deletion as observed and queues its
// Service, so that a slice changed or removed by someone else is put back.
func (c *Controller) sliceChanged(obj interface{}, ev sliceEvent) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	es, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || es.Labels[discoveryv1.LabelManagedBy] != ControllerName || es.Labels[discoveryv1.LabelServiceName] == "" {
		return
	}
	key := es.Namespace + "/" + es.Labels[discoveryv1.LabelServiceName]
	switch ev {
	case sliceAdded:
		c.writer.expect.CreationObserved(key)
	case sliceDeleted:
		c.writer.expect.DeletionObserved(key, es.Name)
	}
	c.queue.Add(key)
}
