// Package serviceaccount gives every namespace what pods need to talk to the API server, as
// two of Kubernetes' controllers do: the serviceaccounts controller keeps a ServiceAccount
// named "default" in every active namespace (re-created when deleted), and the
// root-ca-cert-publisher keeps the ConfigMap "kube-root-ca.crt" (key ca.crt: the CA that signs
// the API server's certificate, controller.Options.RootCA) in every active namespace, put back
// when it is deleted or changed.
package serviceaccount

import (
	"context"
	"log/slog"
	"reflect"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/drover-ci/drover/cluster/controller"
)

// Names Kubernetes gives these objects.
const (
	// DefaultName is the ServiceAccount every namespace gets.
	DefaultName = "default"
	// RootCAConfigMap is the ConfigMap holding the cluster's CA in every namespace.
	RootCAConfigMap = "kube-root-ca.crt"
	// RootCAKey is the key of the CA bundle in RootCAConfigMap.
	RootCAKey = "ca.crt"
	// DescriptionAnnotation and rootCADescription are what Kubernetes' publisher sets.
	DescriptionAnnotation = "kubernetes.io/description"
	rootCADescription     = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."
)

// Controller keeps the default ServiceAccount and the kube-root-ca.crt ConfigMap in every
// namespace. Its queue holds namespace names.
type Controller struct {
	client     kubernetes.Interface
	namespaces corelisters.NamespaceLister
	accounts   corelisters.ServiceAccountLister
	configMaps corelisters.ConfigMapLister
	synced     []cache.InformerSynced
	queue      workqueue.TypedRateLimitingInterface[string]
	rootCA     string // PEM; empty: no ConfigMap is published
	workers    int
	log        *slog.Logger
}

// New builds the controller from the manager's context; the CA it publishes is
// cc.Options.RootCA.
func New(cc controller.Context) (*Controller, error) {
	opts := cc.Options.WithDefaults()
	c := &Controller{client: cc.Client, rootCA: string(opts.RootCA), workers: opts.Workers, log: cc.LoggerOrDiscard(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](200*time.Millisecond, 30*time.Second),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "serviceaccount"})}
	ns := cc.Informers.Core().V1().Namespaces()
	sa := cc.Informers.Core().V1().ServiceAccounts()
	cm := cc.Informers.Core().V1().ConfigMaps()
	c.namespaces, c.accounts, c.configMaps = ns.Lister(), sa.Lister(), cm.Lister()
	c.synced = []cache.InformerSynced{ns.Informer().HasSynced, sa.Informer().HasSynced, cm.Informer().HasSynced}
	if _, err := ns.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj interface{}) { c.enqueueNamespace(obj) },
		UpdateFunc: func(_, obj interface{}) { c.enqueueNamespace(obj) },
	}); err != nil {
		return nil, err
	}
	// A deleted default ServiceAccount, or a deleted or changed root CA ConfigMap, brings
	// its namespace back to the queue.
	if _, err := sa.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj interface{}) { c.enqueueNamed(obj, DefaultName) },
	}); err != nil {
		return nil, err
	}
	if _, err := cm.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj interface{}) { c.enqueueNamed(obj, RootCAConfigMap) },
		DeleteFunc: func(obj interface{}) { c.enqueueNamed(obj, RootCAConfigMap) },
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Name is "serviceaccount".
func (c *Controller) Name() string { return "serviceaccount" }

// Run serves the queue until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return controller.RunWorkers(ctx, c.log, c.queue, c.synced, c.workers, controller.NoRequeue(c.Sync))
}

func (c *Controller) enqueueNamespace(obj interface{}) {
	if ns, ok := obj.(*corev1.Namespace); ok {
		c.queue.Add(ns.Name)
	}
}

// enqueueNamed queues the namespace of obj when obj is named name.
func (c *Controller) enqueueNamed(obj interface{}, name string) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	m, ok := obj.(metav1.Object)
	if ok && m.GetName() == name {
		c.queue.Add(m.GetNamespace())
	}
}

// Sync makes sure namespace ns, when it exists and is active, has the default
// ServiceAccount and the root CA ConfigMap.
func (c *Controller) Sync(ctx context.Context, ns string) error {
	n, err := c.namespaces.Get(ns)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if n.Status.Phase != corev1.NamespaceActive && n.Status.Phase != "" || n.DeletionTimestamp != nil {
		return nil // terminating: nothing new may be created there
	}
	if err := c.syncAccount(ctx, ns); err != nil {
		return err
	}
	return c.syncRootCA(ctx, ns)
}

func (c *Controller) syncAccount(ctx context.Context, ns string) error {
	if _, err := c.accounts.ServiceAccounts(ns).Get(DefaultName); err == nil {
		return nil
	} else if !apierrors.IsNotFound(err) {
		return err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: DefaultName, Namespace: ns}}
	_, err := c.client.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) || isTerminating(err) {
		return nil
	}
	return err
}

func (c *Controller) syncRootCA(ctx context.Context, ns string) error {
	if c.rootCA == "" {
		return nil
	}
	data := map[string]string{RootCAKey: c.rootCA}
	cm, err := c.configMaps.ConfigMaps(ns).Get(RootCAConfigMap)
	if apierrors.IsNotFound(err) {
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: RootCAConfigMap, Namespace: ns,
			Annotations: map[string]string{DescriptionAnnotation: rootCADescription}}, Data: data}
		_, err = c.client.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) || isTerminating(err) {
			return nil
		}
		return err
	}
	if err != nil {
		return err
	}
	if reflect.DeepEqual(cm.Data, data) && len(cm.BinaryData) == 0 && cm.Annotations[DescriptionAnnotation] == rootCADescription {
		return nil
	}
	cm = cm.DeepCopy()
	cm.Data, cm.BinaryData = data, nil
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[DescriptionAnnotation] = rootCADescription
	_, err = c.client.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{})
	return err
}

// isTerminating: the namespace began to go away (or went) after the cache read it.
func isTerminating(err error) bool {
	return apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) || apierrors.IsForbidden(err) || apierrors.IsNotFound(err)
}
