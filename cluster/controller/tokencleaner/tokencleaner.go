// Package tokencleaner deletes expired bootstrap tokens, as Kubernetes' tokencleaner controller
// does: a Secret of type bootstrap.kubernetes.io/token in kube-system whose `expiration` has
// passed is deleted (with a UID precondition, so a Secret recreated under the same name is
// kept); one not yet expired is looked at again when it expires. A token without an
// expiration is kept for ever, as in Kubernetes.
package tokencleaner

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstrapsecretutil "k8s.io/cluster-bootstrap/util/secrets"
	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cluster/controller"
)

// Controller deletes expired bootstrap token Secrets.
type Controller struct {
	client  kubernetes.Interface
	factory informers.SharedInformerFactory
	secrets corelisters.SecretLister
	synced  []cache.InformerSynced
	queue   workqueue.TypedRateLimitingInterface[string]
	clock   clock.Clock
	log     *slog.Logger
}

// New builds the controller on an informer of its own: kube-system's bootstrap token Secrets
// only (Kubernetes' tokencleaner watches the same field selector).
func New(cc controller.Context) (*Controller, error) {
	c := &Controller{client: cc.Client, clock: cc.Clock, log: cc.LoggerOrDiscard()}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	c.factory = informers.NewSharedInformerFactoryWithOptions(cc.Client, 0,
		informers.WithNamespace(metav1.NamespaceSystem),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("type", string(bootstrapapi.SecretTypeBootstrapToken)).String()
		}))
	inf := c.factory.Core().V1().Secrets()
	c.secrets = inf.Lister()
	c.synced = []cache.InformerSynced{inf.Informer().HasSynced}
	c.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](200*time.Millisecond, 30*time.Second),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "tokencleaner"})
	_, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
	})
	return c, err
}

// Name is "tokencleaner".
func (c *Controller) Name() string { return "tokencleaner" }

func (c *Controller) enqueue(obj any) {
	if s, ok := obj.(*corev1.Secret); ok {
		c.queue.Add(s.Name)
	}
}

// Run starts its informer and works the queue until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	c.factory.Start(ctx.Done())
	defer func() {
		cancel()
		controller.ShutdownInformers(c.factory, controller.InformerShutdownWait)
	}()
	return controller.RunWorkers(ctx, c.log, c.queue, c.synced, 1, c.Sync)
}

// Sync deletes the named token Secret if it has expired, or asks to be called again when it
// expires.
func (c *Controller) Sync(ctx context.Context, name string) (time.Duration, error) {
	s, err := c.secrets.Secrets(metav1.NamespaceSystem).Get(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if s.Type != corev1.SecretType(bootstrapapi.SecretTypeBootstrapToken) || s.DeletionTimestamp != nil {
		return 0, nil
	}
	left, expired := bootstrapsecretutil.GetExpiration(s, c.clock.Now())
	if !expired {
		if left > 0 {
			return left, nil
		}
		return 0, nil // no (or an unparsable) expiration: kept
	}
	err = c.client.CoreV1().Secrets(metav1.NamespaceSystem).Delete(ctx, name,
		metav1.DeleteOptions{Preconditions: metav1.NewUIDPreconditions(string(s.UID))})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return 0, nil // gone, or a new Secret under that name: its own event brings it back
	}
	if err != nil {
		return 0, fmt.Errorf("deleting expired bootstrap token %s: %w", name, err)
	}
	c.log.Info("deleted an expired bootstrap token", "secret", name)
	return 0, nil
}
