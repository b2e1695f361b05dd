package daemonset_test

import (
	"context"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"

	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/cluster/controller/controllertest"
	"github.com/drover-ci/drover/cluster/controller/daemonset"
	"github.com/drover-ci/drover/cluster/scheduler"
	"github.com/drover-ci/drover/internal/uptest"
)

// withScheduler runs the DaemonSet controller and the scheduler, which binds its pods.
type withScheduler struct{ ds, sched controller.Controller }

func (w withScheduler) Name() string { return "daemonset+scheduler" }

func (w withScheduler) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return w.ds.Run(ctx) })
	g.Go(func() error { return w.sched.Run(ctx) })
	return g.Wait()
}

func start(t *testing.T) kubernetes.Interface {
	t.Helper()
	_, cs := controllertest.Run(t, func(cc controller.Context) (withScheduler, error) {
		cc.Recorder = func(string) record.EventRecorder { return &record.FakeRecorder{} }
		ds, err := daemonset.New(cc)
		if err != nil {
			return withScheduler{}, err
		}
		sched, err := scheduler.NewController(cc)
		return withScheduler{ds, sched}, err
	})
	return cs
}

func addNode(t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	n, err := cs.CoreV1().Nodes().Create(t.Context(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Status = corev1.NodeStatus{
		Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now()}},
		Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourcePods: resource.MustParse("110")},
	}
	if _, err := cs.CoreV1().Nodes().UpdateStatus(t.Context(), n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// actAsKubelets marks every bound pod Running and Ready and finishes graceful deletions, as
// node agents would.
func actAsKubelets(t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	pods, err := cs.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	zero := int64(0)
	for _, p := range pods.Items {
		switch {
		case p.Spec.NodeName == "":
		case p.DeletionTimestamp != nil:
			_ = cs.CoreV1().Pods("default").Delete(t.Context(), p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
		case p.Status.Phase != corev1.PodRunning:
			p.Status.Phase = corev1.PodRunning
			p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()})
			_, _ = cs.CoreV1().Pods("default").UpdateStatus(t.Context(), &p, metav1.UpdateOptions{})
		}
	}
}

// settled: every node of nodes runs one Running pod of the DaemonSet's current revision, and
// the status says so.
func settled(t *testing.T, cs kubernetes.Interface, nodes ...string) func() bool {
	return func() bool {
		actAsKubelets(t, cs)
		ds, err := cs.AppsV1().DaemonSets("default").Get(t.Context(), "agent", metav1.GetOptions{})
		if err != nil {
			return false
		}
		pods, err := cs.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{LabelSelector: "app=agent"})
		if err != nil {
			return false
		}
		per := map[string]int{}
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
				return false
			}
			per[p.Spec.NodeName]++
		}
		for _, n := range nodes {
			if per[n] != 1 {
				return false
			}
		}
		st, want := ds.Status, int32(len(nodes))
		return len(per) == len(nodes) && st.ObservedGeneration == ds.Generation && st.DesiredNumberScheduled == want &&
			st.NumberAvailable == want && st.UpdatedNumberScheduled == want && st.NumberUnavailable == 0
	}
}

func TestIntegrationDaemonSetOnNodes(t *testing.T) {
	cs := start(t)
	ctx := t.Context()
	addNode(t, cs, "n1")
	addNode(t, cs, "n2")
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1"}}},
			},
		},
	}
	if _, err := cs.AppsV1().DaemonSets("default").Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 30*time.Second, "a pod on n1 and n2", settled(t, cs, "n1", "n2"))

	addNode(t, cs, "n3")
	uptest.Eventually(t, 30*time.Second, "a pod on n3 too", settled(t, cs, "n1", "n2", "n3"))

	if err := cs.CoreV1().Nodes().Delete(ctx, "n2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 30*time.Second, "n2's pod gone", settled(t, cs, "n1", "n3"))

	// A new template rolls out (RollingUpdate, maxUnavailable 1 by default) with a second
	// ControllerRevision.
	cur, err := cs.AppsV1().DaemonSets("default").Get(ctx, "agent", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Spec.Template.Spec.Containers[0].Image = "img:2"
	if _, err := cs.AppsV1().DaemonSets("default").Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 60*time.Second, "img:2 rolled out", func() bool {
		if !settled(t, cs, "n1", "n3")() {
			return false
		}
		pods, _ := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=agent"})
		for _, p := range pods.Items {
			if p.Spec.Containers[0].Image != "img:2" {
				return false
			}
		}
		return true
	})
	revs, err := cs.AppsV1().ControllerRevisions("default").List(ctx, metav1.ListOptions{LabelSelector: "app=agent"})
	if err != nil || len(revs.Items) != 2 {
		t.Fatalf("controller revisions = %v, %v; want 2", revs, err)
	}
	// Deleting the DaemonSet takes its pods and revisions (garbage collection).
	if err := cs.AppsV1().DaemonSets("default").Delete(ctx, "agent", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 30*time.Second, "pods and revisions collected", func() bool {
		actAsKubelets(t, cs)
		pods, _ := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=agent"})
		revs, _ := cs.AppsV1().ControllerRevisions("default").List(ctx, metav1.ListOptions{})
		_, err := cs.AppsV1().DaemonSets("default").Get(ctx, "agent", metav1.GetOptions{})
		return apierrors.IsNotFound(err) && len(pods.Items) == 0 && len(revs.Items) == 0
	})
}
