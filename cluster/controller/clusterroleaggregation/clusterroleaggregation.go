// Package clusterroleaggregation is Kubernetes' ClusterRole aggregation controller: a
// ClusterRole with an aggregationRule gets, as its rules, the union of the rules of every
// other ClusterRole its selectors match (in name order, duplicates dropped), kept current as
// those change. That is how admin, edit and view pick up the rules of the
// system:aggregate-to-* roles and of any role an operator labels
// rbac.authorization.k8s.io/aggregate-to-view: "true".
package clusterroleaggregation

import (
	"context"
	"log/slog"
	"sort"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/drover-ci/drover/cluster/controller"
)

// Controller aggregates ClusterRoles. Its queue holds the names of aggregated ClusterRoles.
type Controller struct {
	client  kubernetes.Interface
	roles   rbaclisters.ClusterRoleLister
	synced  []cache.InformerSynced
	queue   workqueue.TypedRateLimitingInterface[string]
	workers int
	log     *slog.Logger
}

// New builds the controller from the manager's context.
func New(cc controller.Context) (*Controller, error) {
	opts := cc.Options.WithDefaults()
	c := &Controller{client: cc.Client, workers: opts.Workers, log: cc.LoggerOrDiscard(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](200*time.Millisecond, 30*time.Second),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "clusterroleaggregation"})}
	inf := cc.Informers.Rbac().V1().ClusterRoles()
	c.roles = inf.Lister()
	c.synced = []cache.InformerSynced{inf.Informer().HasSynced}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(interface{}) { c.enqueueAll() },
		UpdateFunc: func(_, _ interface{}) { c.enqueueAll() },
		DeleteFunc: func(interface{}) { c.enqueueAll() },
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Name is "clusterroleaggregation".
func (c *Controller) Name() string { return "clusterroleaggregation" }

// Run serves the queue until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return controller.RunWorkers(ctx, c.log, c.queue, c.synced, c.workers, controller.NoRequeue(c.Sync))
}

// enqueueAll queues every aggregated ClusterRole: any change may change what a selector
// matches, as in Kubernetes' controller.
func (c *Controller) enqueueAll() {
	all, err := c.roles.List(labels.Everything())
	if err != nil {
		return
	}
	for _, r := range all {
		if r.AggregationRule != nil {
			c.queue.Add(r.Name)
		}
	}
}

// Sync sets the rules of the aggregated ClusterRole name.
func (c *Controller) Sync(ctx context.Context, name string) error {
	role, err := c.roles.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if role.AggregationRule == nil {
		return nil
	}
	matched := map[string]*rbacv1.ClusterRole{}
	for i := range role.AggregationRule.ClusterRoleSelectors {
		sel, err := metav1.LabelSelectorAsSelector(&role.AggregationRule.ClusterRoleSelectors[i])
		if err != nil {
			c.log.Warn("aggregationRule selector does not parse", "clusterrole", name, "err", err)
			continue
		}
		roles, err := c.roles.List(sel)
		if err != nil {
			return err
		}
		for _, r := range roles {
			if r.Name != role.Name {
				matched[r.Name] = r
			}
		}
	}
	names := make([]string, 0, len(matched))
	for n := range matched {
		names = append(names, n)
	}
	sort.Strings(names)
	rules := []rbacv1.PolicyRule{}
	for _, n := range names {
		for _, r := range matched[n].Rules {
			if !ruleExists(rules, r) {
				rules = append(rules, r)
			}
		}
	}
	if equality.Semantic.DeepEqual(role.Rules, rules) || len(role.Rules) == 0 && len(rules) == 0 {
		return nil
	}
	updated := role.DeepCopy()
	updated.Rules = rules
	_, err = c.client.RbacV1().ClusterRoles().Update(ctx, updated, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		c.queue.AddRateLimited(name) // changed meanwhile: the informer brings the new one
		return nil
	}
	return err
}

func ruleExists(haystack []rbacv1.PolicyRule, needle rbacv1.PolicyRule) bool {
	for _, r := range haystack {
		if equality.Semantic.DeepEqual(r, needle) {
			return true
		}
	}
	return false
}
