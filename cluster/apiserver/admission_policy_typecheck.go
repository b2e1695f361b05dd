package apiserver

import (
	"context"
	"log/slog"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/cel/openapi/resolver"
	"k8s.io/client-go/kubernetes"
	listersv1 "k8s.io/client-go/listers/admissionregistration/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/drover-ci/drover/cluster/registry"
)

// policyTypeChecker is Kubernetes' ValidatingAdmissionPolicy status controller
// (pkg/controller/validatingadmissionpolicystatus, in kube-controller-manager there): each
// policy whose generation is newer than its status.observedGeneration is type checked by
// k8s.io/apiserver's TypeChecker against the schemas of the kinds it matches, and its status
// gets observedGeneration and typeChecking.expressionWarnings. The schemas are the server's
// own OpenAPI v3 documents read through the loopback client (resolver.ClientDiscoveryResolver,
// custom resources included). It runs in every API server: several writing the same status
// is harmless (a conflict is retried, the result is the same).
type policyTypeChecker struct {
	cs      kubernetes.Interface
	lister  listersv1.ValidatingAdmissionPolicyLister
	synced  cache.InformerSynced
	checker *validating.TypeChecker
	queue   workqueue.TypedRateLimitingInterface[string]
	log     *slog.Logger
}

// policyTypeCheckerName is upstream's field manager, kept for the same managedFields.
const policyTypeCheckerName = "validatingadmissionpolicy-status-controller"

func newPolicyTypeChecker(lb *loopback, mapper meta.RESTMapper, log *slog.Logger) *policyTypeChecker {
	inf := lb.factory.Admissionregistration().V1().ValidatingAdmissionPolicies()
	c := &policyTypeChecker{
		cs: lb.cs, lister: inf.Lister(), synced: inf.Informer().HasSynced,
		checker: &validating.TypeChecker{
			SchemaResolver: &resolver.ClientDiscoveryResolver{Discovery: lb.cs.Discovery()},
			RestMapper:     mapper,
		},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: policyTypeCheckerName}),
		log: log,
	}
	enqueue := func(obj interface{}) {
		if p, ok := obj.(*admissionregistrationv1.ValidatingAdmissionPolicy); ok {
			c.queue.Add(p.Name)
		}
	}
	_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj interface{}) { enqueue(obj) },
	})
	return c
}

// run checks policies until ctx ends.
func (c *policyTypeChecker) run(ctx context.Context) {
	if c == nil {
		return
	}
	defer c.queue.ShutDown()
	go func() {
		<-ctx.Done()
		c.queue.ShutDown()
	}()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return
	}
	for {
		name, quit := c.queue.Get()
		if quit {
			return
		}
		if err := c.sync(ctx, name); err != nil {
			if ctx.Err() == nil {
				c.log.Debug("type checking validating admission policy", "name", name, "err", err)
			}
			c.queue.AddRateLimited(name)
		} else {
			c.queue.Forget(name)
		}
		c.queue.Done(name)
	}
}

// sync is upstream's reconcile, with an update of the status in place of its forced apply:
// applied through drover's server-side apply, a check that clears the warnings of an earlier
// one left status.typeChecking nil rather than empty (the apply's typeChecking: {} dropped),
// so that "checked, no warnings" read as "not checked".
func (c *policyTypeChecker) sync(ctx context.Context, name string) error {
	p, err := c.lister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if p.Generation <= p.Status.ObservedGeneration {
		return nil
	}
	var warnings []admissionregistrationv1.ExpressionWarning
	registry.BuildCEL(func() { warnings = c.checker.Check(p) }) // it builds CEL environments
	p = p.DeepCopy()
	p.Status.ObservedGeneration = p.Generation
	p.Status.TypeChecking = &admissionregistrationv1.TypeChecking{ExpressionWarnings: warnings}
	uctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = c.cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().UpdateStatus(uctx, p,
		metav1.UpdateOptions{FieldManager: policyTypeCheckerName})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err // a conflict: the informer brings the newer policy, and the retry reads it
}
