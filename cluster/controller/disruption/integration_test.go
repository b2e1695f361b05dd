package disruption_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/cluster/controller/controllertest"
	"github.com/drover-ci/drover/cluster/controller/disruption"
	"github.com/drover-ci/drover/cluster/controller/replication"
	"github.com/drover-ci/drover/internal/uptest"
)

// withReplication runs the disruption controller and the replication manager.
type withReplication struct{ pdb, rc controller.Controller }

func (w withReplication) Name() string { return "disruption+replication" }

func (w withReplication) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return w.pdb.Run(ctx) })
	g.Go(func() error { return w.rc.Run(ctx) })
	return g.Wait()
}

// kubelet binds every pending pod to node-1, marks it Running and Ready, and finishes graceful
// deletions.
func kubelet(t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	pods, err := cs.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	zero := int64(0)
	for _, p := range pods.Items {
		switch {
		case p.DeletionTimestamp != nil:
			_ = cs.CoreV1().Pods("default").Delete(t.Context(), p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
		case p.Spec.NodeName == "":
			_ = cs.CoreV1().Pods("default").Bind(t.Context(), &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: p.Name},
				Target: corev1.ObjectReference{Kind: "Node", Name: "node-1"}}, metav1.CreateOptions{})
		case p.Status.Phase != corev1.PodRunning:
			p.Status.Phase = corev1.PodRunning
			p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()})
			_, _ = cs.CoreV1().Pods("default").UpdateStatus(t.Context(), &p, metav1.UpdateOptions{})
		}
	}
}

func TestIntegrationBudgetAndEviction(t *testing.T) {
	_, cs := controllertest.Run(t, func(cc controller.Context) (withReplication, error) {
		pdb, err := disruption.New(cc)
		if err != nil {
			return withReplication{}, err
		}
		rc, err := replication.New(cc)
		return withReplication{pdb, rc}, err
	})
	ctx := t.Context()
	three := int32(3)
	labels := map[string]string{"app": "web"}
	if _, err := cs.CoreV1().ReplicationControllers("default").Create(ctx, &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ReplicationControllerSpec{Replicas: &three, Selector: labels, Template: &corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img"}}},
		}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// maxUnavailable 34% of the RC's scale 3 rounds up to 2: 1 must stay healthy.
	maxUnavailable := intstr.FromString("34%")
	if _, err := cs.PolicyV1().PodDisruptionBudgets("default").Create(ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &maxUnavailable, Selector: &metav1.LabelSelector{MatchLabels: labels}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	budget := func(healthy, allowed int32) func() bool {
		return func() bool {
			kubelet(t, cs)
			pdb, err := cs.PolicyV1().PodDisruptionBudgets("default").Get(ctx, "web", metav1.GetOptions{})
			return err == nil && pdb.Status.ObservedGeneration == pdb.Generation && pdb.Status.ExpectedPods == 3 &&
				pdb.Status.DesiredHealthy == 1 && pdb.Status.CurrentHealthy == healthy && pdb.Status.DisruptionsAllowed == allowed
		}
	}
	uptest.Eventually(t, 30*time.Second, "budget: 3 healthy, 2 disruptions allowed", budget(3, 2))

	pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(pods.Items) != 3 {
		t.Fatalf("pods %v, %v", pods, err)
	}
	for i, want := range []error{nil, nil} {
		err := cs.PolicyV1().Evictions("default").Evict(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: pods.Items[i].Name, Namespace: "default"}})
		if err != want {
			t.Fatalf("eviction %d: %v", i, err)
		}
	}
	err = cs.PolicyV1().Evictions("default").Evict(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: pods.Items[2].Name, Namespace: "default"}})
	if !apierrors.IsTooManyRequests(err) {
		t.Fatalf("third eviction: %v, want 429", err)
	}
	// The replication manager replaces the evicted pods; once they are Ready the budget allows
	// two disruptions again and the third eviction goes through.
	uptest.Eventually(t, 30*time.Second, "budget restored after replacements", budget(3, 2))
	if err := cs.PolicyV1().Evictions("default").Evict(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: pods.Items[2].Name, Namespace: "default"}}); err != nil {
		t.Fatalf("third eviction after the replacements: %v", err)
	}
	pdb, err := cs.PolicyV1().PodDisruptionBudgets("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cond := pdb.Status.Conditions
	if len(cond) != 1 || cond[0].Type != policyv1.DisruptionAllowedCondition {
		t.Fatalf("conditions = %+v", cond)
	}
}

// TestIntegrationScaleSubresource: pods whose controller no lister covers (here a Deployment
// owning pods directly) are counted through the controller's scale subresource, found by
// discovery; a controller kind without one (a DaemonSet) fails the sync safely: no disruption
// allowed, reason SyncFailed.
func TestIntegrationScaleSubresource(t *testing.T) {
	_, cs := controllertest.Run(t, disruption.New)
	ctx := t.Context()
	five := int32(5)
	labels := map[string]string{"app": "direct"}
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img"}}}}
	d, err := cs.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "direct"},
		Spec: appsv1.DeploymentSpec{Replicas: &five, Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := cs.AppsV1().DaemonSets("default").Create(ctx, &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "daemon"},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "daemon"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "daemon"}}, Spec: tmpl.Spec}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, owner := range []struct {
		obj  metav1.Object
		kind string
		app  string
	}{{d, "Deployment", "direct"}, {d, "Deployment", "direct"}, {ds, "DaemonSet", "daemon"}} {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Labels: map[string]string{"app": owner.app},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(owner.obj, appsv1.SchemeGroupVersion.WithKind(owner.kind))}},
			Spec: tmpl.Spec}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	half := intstr.FromString("50%")
	for _, app := range []string{"direct", "daemon"} {
		if _, err := cs.PolicyV1().PodDisruptionBudgets("default").Create(ctx, &policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Name: app},
			Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: &half, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	uptest.Eventually(t, 20*time.Second, "expected pods from the Deployment's scale", func() bool {
		pdb, err := cs.PolicyV1().PodDisruptionBudgets("default").Get(ctx, "direct", metav1.GetOptions{})
		return err == nil && pdb.Status.ExpectedPods == 5 && pdb.Status.DesiredHealthy == 3 && pdb.Status.ObservedGeneration == pdb.Generation
	})
	uptest.Eventually(t, 20*time.Second, "the DaemonSet's budget failed safe", func() bool {
		pdb, err := cs.PolicyV1().PodDisruptionBudgets("default").Get(ctx, "daemon", metav1.GetOptions{})
		if err != nil || len(pdb.Status.Conditions) != 1 {
			return false
		}
		c := pdb.Status.Conditions[0]
		return c.Reason == policyv1.SyncFailedReason && c.Status == metav1.ConditionFalse && pdb.Status.DisruptionsAllowed == 0 &&
			strings.Contains(c.Message, "daemonsets.apps does not implement the scale subresource")
	})
}
