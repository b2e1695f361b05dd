// Package endpoints is the endpoints controller: for every Service with a selector it keeps an
// Endpoints object listing the IPs of the selected pods (ready ones in addresses, others in
// notReadyAddresses) with the Service's ports resolved per pod (targetPort by number or by
// container port name).
package endpoints

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/drover-ci/drover/cluster/controller"
)

// Controller keeps Endpoints in step with Services and pods.
type Controller struct {
	client    kubernetes.Interface
	services  corelisters.ServiceLister
	pods      corelisters.PodLister
	endpoints corelisters.EndpointsLister
	synced    []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
	workers   int
	log       *slog.Logger
}

// New builds the controller from the manager's context.
func New(cc controller.Context) (*Controller, error) {
	svcInf := cc.Informers.Core().V1().Services()
	podInf := cc.Informers.Core().V1().Pods()
	epInf := cc.Informers.Core().V1().Endpoints()
	c := &Controller{
		client:    cc.Client,
		services:  svcInf.Lister(),
		pods:      podInf.Lister(),
		endpoints: epInf.Lister(),
		synced:    []cache.InformerSynced{svcInf.Informer().HasSynced, podInf.Informer().HasSynced, epInf.Informer().HasSynced},
		queue:     workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		workers:   cc.Options.WithDefaults().Workers,
		log:       cc.LoggerOrDiscard(),
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
	// An Endpoints object of a Service changed or removed by someone else is put back. An
	// Endpoints object with no Service of its name is the user's: syncing its key would delete
	// it as the leftover of a deleted Service, so its changes are not followed.
	enqueueEp := func(obj interface{}) {
		key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
		if err != nil {
			return
		}
		ns, name, err := cache.SplitMetaNamespaceKey(key)
		if err != nil {
			return
		}
		if _, err := c.services.Services(ns).Get(name); err == nil {
			c.queue.Add(key)
		}
	}
	if _, err := epInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, n interface{}) { enqueueEp(n) }, DeleteFunc: enqueueEp,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Name is "endpoints".
func (c *Controller) Name() string { return "endpoints" }

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

// sync writes the Endpoints of one service.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		err := c.client.CoreV1().Endpoints(ns).Delete(ctx, name, deleteOpts)
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete endpoints: %w", err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if svc.Spec.Selector == nil || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil // endpoints of selector-less services are the user's
	}
	pods, err := c.pods.Pods(ns).List(labels.SelectorFromSet(svc.Spec.Selector))
	if err != nil {
		return err
	}
	subsets := Subsets(svc, pods)
	return c.write(ctx, svc, subsets)
}

func (c *Controller) write(ctx context.Context, svc *corev1.Service, subsets []corev1.EndpointSubset) error {
	cur, err := c.endpoints.Endpoints(svc.Namespace).Get(svc.Name)
	if apierrors.IsNotFound(err) {
		ep := &corev1.Endpoints{Subsets: subsets}
		ep.Name, ep.Namespace, ep.Labels = svc.Name, svc.Namespace, copyLabels(svc.Labels)
		_, err := c.client.CoreV1().Endpoints(svc.Namespace).Create(ctx, ep, createOpts)
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("endpoints %s/%s appeared meanwhile, retrying", svc.Namespace, svc.Name)
		}
		return err
	}
	if err != nil {
		return err
	}
	if equalSubsets(cur.Subsets, subsets) && equalLabels(cur.Labels, svc.Labels) {
		return nil
	}
	ep := cur.DeepCopy()
	ep.Subsets, ep.Labels = subsets, copyLabels(svc.Labels)
	if ep.Annotations == nil {
		ep.Annotations = map[string]string{}
	}
	ep.Annotations[corev1.EndpointsLastChangeTriggerTime] = time.Now().UTC().Format(time.RFC3339Nano)
	_, err = c.client.CoreV1().Endpoints(svc.Namespace).Update(ctx, ep, updateOpts)
	return err
}
