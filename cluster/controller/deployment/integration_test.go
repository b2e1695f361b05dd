package deployment_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/controller/deployment"
	"github.com/drover-ci/drover/internal/uptest"
)

// readyWatch follows the pods of app through a watch and keeps the fewest Ready pods (not
// being deleted) seen at any event since it started, and the events (trace) to show when a
// test finds too few.
type readyWatch struct {
	mu    sync.Mutex
	ready map[string]bool
	min   int
	trace []string
	stop  func()
	done  chan struct{}
}

func watchReady(t *testing.T, cs kubernetes.Interface, app string) *readyWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	w := &readyWatch{ready: map[string]bool{}, stop: cancel, done: make(chan struct{})}
	for i := range list.Items {
		p := &list.Items[i]
		w.ready[p.Name] = podReady(p) && p.DeletionTimestamp == nil
	}
	w.min = w.count()
	wi, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: "app=" + app, ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(w.done)
		defer wi.Stop()
		for ev := range wi.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			w.mu.Lock()
			if ev.Type == watch.Deleted {
				delete(w.ready, p.Name)
			} else {
				w.ready[p.Name] = podReady(p) && p.DeletionTimestamp == nil
			}
			w.min = min(w.min, w.count())
			w.trace = append(w.trace, fmt.Sprintf("%s %s ready=%v deleting=%v phase=%s -> %d", ev.Type, p.Name, podReady(p), p.DeletionTimestamp != nil, p.Status.Phase, w.count()))
			w.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); <-w.done })
	return w
}

func (w *readyWatch) count() int {
	n := 0
	for _, r := range w.ready {
		if r {
			n++
		}
	}
	return n
}

// current is the number of Ready pods now.
func (w *readyWatch) current() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.count()
}

func (w *readyWatch) fewest() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.min
}

// TestIntegrationRollingUpdate: a Deployment of 4 with maxSurge 1 and maxUnavailable 0 rolls
// to a new image without ever having fewer than 4 Ready pods, ends with revisions 1 and 2 on
// its ReplicaSets, and an undo (kubectl's: the old ReplicaSet's template put back) brings the
// old ReplicaSet back as revision 3 with 1 in its history.
func TestIntegrationRollingUpdate(t *testing.T) {
	c := startCluster(t, 2)
	ctx := t.Context()
	d0 := testDeployment("web", "img:1", 4, intstr.FromInt(1), intstr.FromInt(0))
	if _, err := c.cs.AppsV1().Deployments("default").Create(ctx, d0, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	d := c.waitComplete(t, "web", 60*time.Second)
	if d.Annotations[deployment.RevisionAnnotation] != "1" || d.Status.ReadyReplicas != 4 {
		t.Errorf("after the first rollout: annotations %v status %+v", d.Annotations, d.Status)
	}
	w := watchReady(t, c.cs, "web")
	c.update(t, "web", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "img:2" })
	d = c.waitComplete(t, "web", 60*time.Second)
	if n := w.fewest(); n < 4 {
		t.Errorf("%d Ready pods at one point of the rollout, want at least 4\n%s", n, strings.Join(w.trace, "\n"))
	}
	rss := c.replicaSets(t, "web")
	revs := map[string]string{}
	var old *appsv1.ReplicaSet
	for _, rs := range rss {
		revs[rs.Annotations[deployment.RevisionAnnotation]] = rs.Spec.Template.Spec.Containers[0].Image
		if rs.Spec.Template.Spec.Containers[0].Image == "img:1" {
			old = rs
		}
	}
	if len(rss) != 2 || revs["1"] != "img:1" || revs["2"] != "img:2" || *old.Spec.Replicas != 0 {
		t.Fatalf("replica sets by revision %v (old %+v)", revs, old)
	}
	if c := condition(d, appsv1.DeploymentProgressing); c == nil || c.Reason != deployment.NewRSAvailableReason {
		t.Errorf("Progressing = %+v", c)
	}
	if d.Annotations[deployment.RevisionAnnotation] != "2" {
		t.Errorf("deployment revision %q, want 2", d.Annotations[deployment.RevisionAnnotation])
	}

	// Undo as kubectl does it: the old template (without pod-template-hash) goes back.
	c.update(t, "web", func(d *appsv1.Deployment) {
		tmpl := old.Spec.Template.DeepCopy()
		delete(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
		d.Spec.Template = *tmpl
	})
	c.waitComplete(t, "web", 60*time.Second)
	uptest.Eventually(t, 20*time.Second, "the old replica set back as revision 3", func() bool {
		rs := c.replicaSets(t, "web")[old.Name]
		return rs != nil && rs.Annotations[deployment.RevisionAnnotation] == "3" &&
			rs.Annotations[deployment.RevisionHistoryAnnotation] == "1" && *rs.Spec.Replicas == 4
	})
	if n := w.fewest(); n < 4 {
		t.Errorf("%d Ready pods at one point of the undo, want at least 4\n%s", n, strings.Join(w.trace, "\n"))
	}
}

func condition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == t {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

// TestIntegrationBrokenImageTimesOut: a new image that cannot be pulled stalls the rollout;
// the old pods keep running and Ready, and after progressDeadlineSeconds Progressing is
// False with ProgressDeadlineExceeded. Scaling the stalled Deployment scales its ReplicaSets
// proportionally; a fixed image completes the rollout.
func TestIntegrationBrokenImageTimesOut(t *testing.T) {
	c := startCluster(t, 1, "broken:1")
	ctx := t.Context()
	d0 := testDeployment("web", "img:1", 3, intstr.FromInt(1), intstr.FromInt(0))
	d0.Spec.ProgressDeadlineSeconds = ptr(int32(3))
	if _, err := c.cs.AppsV1().Deployments("default").Create(ctx, d0, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.waitComplete(t, "web", 60*time.Second)
	c.update(t, "web", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "broken:1" })
	var d *appsv1.Deployment
	uptest.Eventually(t, 60*time.Second, "ProgressDeadlineExceeded", func() bool {
		d = c.get(t, "web")
		cond := condition(d, appsv1.DeploymentProgressing)
		return cond != nil && cond.Reason == deployment.TimedOutReason && cond.Status == corev1.ConditionFalse
	})
	if d.Status.AvailableReplicas != 3 || d.Status.UpdatedReplicas != 1 || d.Status.Replicas != 4 {
		t.Errorf("status %+v; want the 3 old pods available and 1 new pod", d.Status)
	}
	if cond := condition(d, appsv1.DeploymentAvailable); cond == nil || cond.Status != corev1.ConditionTrue {
		t.Errorf("Available = %+v", cond)
	}
	// Scaled mid-rollout, 3 → 6 (allowed 7 with the surge pod): the 3 old and 1 new pods grow
	// in proportion to their shares of max-replicas 4, old 3·7/4 ≈ 5, new 1·7/4 ≈ 2.
	c.update(t, "web", func(d *appsv1.Deployment) { d.Spec.Replicas = ptr(int32(6)) })
	uptest.Eventually(t, 30*time.Second, "the replica sets scaled in proportion", func() bool {
		sizes := map[string]int32{}
		for _, rs := range c.replicaSets(t, "web") {
			sizes[rs.Spec.Template.Spec.Containers[0].Image] = *rs.Spec.Replicas
		}
		return sizes["img:1"] == 5 && sizes["broken:1"] == 2
	})
	// A fixed image resumes the rollout and it completes.
	c.update(t, "web", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "img:3" })
	d = c.waitComplete(t, "web", 60*time.Second)
	if cond := condition(d, appsv1.DeploymentProgressing); cond == nil || cond.Reason != deployment.NewRSAvailableReason {
		t.Errorf("after the fix: Progressing = %+v", cond)
	}
}

// TestIntegrationPauseAndResume: a paused Deployment takes template changes without rolling
// them out and records DeploymentPaused; resumed, it rolls out once.
func TestIntegrationPauseAndResume(t *testing.T) {
	c := startCluster(t, 1)
	ctx := t.Context()
	if _, err := c.cs.AppsV1().Deployments("default").Create(ctx,
		testDeployment("web", "img:1", 2, intstr.FromString("25%"), intstr.FromString("25%")), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.waitComplete(t, "web", 60*time.Second)
	c.update(t, "web", func(d *appsv1.Deployment) { d.Spec.Paused = true })
	uptest.Eventually(t, 20*time.Second, "DeploymentPaused", func() bool {
		cond := condition(c.get(t, "web"), appsv1.DeploymentProgressing)
		return cond != nil && cond.Reason == deployment.PausedDeployReason && cond.Status == corev1.ConditionUnknown
	})
	c.update(t, "web", func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].Image = "img:2"
		d.Spec.Replicas = ptr(int32(3))
	})
	uptest.Eventually(t, 20*time.Second, "the paused deployment scaled", func() bool {
		d := c.get(t, "web")
		return d.Status.ObservedGeneration >= d.Generation && d.Status.Replicas == 3
	})
	if rss := c.replicaSets(t, "web"); len(rss) != 1 {
		t.Fatalf("%d replica sets while paused, want 1", len(rss))
	}
	c.update(t, "web", func(d *appsv1.Deployment) { d.Spec.Paused = false })
	d := c.waitComplete(t, "web", 60*time.Second)
	if rss := c.replicaSets(t, "web"); len(rss) != 2 || d.Annotations[deployment.RevisionAnnotation] != "2" {
		t.Errorf("after resume: %d replica sets, revision %q", len(rss), d.Annotations[deployment.RevisionAnnotation])
	}
}

// TestIntegrationRecreate: Recreate stops every old pod before a new one is created.
func TestIntegrationRecreate(t *testing.T) {
	c := startCluster(t, 1)
	ctx := t.Context()
	d0 := testDeployment("web", "img:1", 2, intstr.FromInt(1), intstr.FromInt(0))
	d0.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	if _, err := c.cs.AppsV1().Deployments("default").Create(ctx, d0, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.waitComplete(t, "web", 60*time.Second)
	list, err := c.cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	wi, err := c.cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: "app=web", ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer wi.Stop()
	old := map[string]bool{}
	for _, p := range list.Items {
		old[p.Name] = true
	}
	c.update(t, "web", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "img:2" })
	timeout := time.After(60 * time.Second)
	newPods := map[string]bool{}
	for len(newPods) < 2 {
		select {
		case ev := <-wi.ResultChan():
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			switch {
			case ev.Type == watch.Deleted:
				delete(old, p.Name)
			case !old[p.Name] && ev.Type == watch.Added:
				if len(old) > 0 {
					t.Fatalf("new pod %s created while old pods %v exist", p.Name, old)
				}
				newPods[p.Name] = true
			}
		case <-timeout:
			t.Fatalf("no new pods after 60 s; old %v", old)
		}
	}
	c.waitComplete(t, "web", 60*time.Second)
}

func ptr[T any](v T) *T { return &v }
