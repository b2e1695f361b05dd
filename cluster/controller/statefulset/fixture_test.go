package statefulset

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"

	"github.com/drover-ci/drover/cluster/controller/controllertest"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fixture is the controller over a fake clientset that answers as the API server does where
// the controller depends on it (created objects get a uid and a creation time, pods start
// Pending). Before each sync the informer caches are filled from the clientset, so a test
// runs the controller step by step, playing the node agent between steps.
type fixture struct {
	*controllertest.Fixture[*Controller]
	seq atomic.Int32
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	ff := controllertest.NewFake(t0, 1000, objs...)
	f := &fixture{}
	ff.Client.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ca := a.(k8stesting.CreateAction)
		obj := ca.GetObject().DeepCopyObject() // the API server does not change the caller's object
		m, err := metaOf(obj)
		if err != nil || a.GetSubresource() != "" {
			return false, nil, nil
		}
		n := f.seq.Add(1)
		if m.GetUID() == "" {
			m.SetUID(types.UID(fmt.Sprintf("uid-%s-%d", m.GetName(), n)))
		}
		m.SetCreationTimestamp(metav1.NewTime(t0.Add(time.Duration(n) * time.Second)))
		if pod, ok := obj.(*corev1.Pod); ok {
			pod.Status = corev1.PodStatus{Phase: corev1.PodPending}
		}
		if err := ff.Client.Tracker().Create(a.GetResource(), obj, a.GetNamespace()); err != nil {
			return true, nil, err
		}
		return true, obj, nil
	})
	f.Fixture = controllertest.NewFixture[*Controller](t, ff, New)
	return f
}

func metaOf(obj runtime.Object) (metav1.Object, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("%T has no metadata", obj)
	}
	return m, nil
}

// refresh replaces the informer caches' contents with the clientset's objects.
func (f *fixture) refresh() {
	f.T.Helper()
	ctx := context.Background()
	c := f.Client
	pods, err := c.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	f.check(err)
	sets, err := c.AppsV1().StatefulSets("").List(ctx, metav1.ListOptions{})
	f.check(err)
	revs, err := c.AppsV1().ControllerRevisions("").List(ctx, metav1.ListOptions{})
	f.check(err)
	pvcs, err := c.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
	f.check(err)
	replace := func(inf cache.SharedIndexInformer, items []interface{}) {
		f.check(inf.GetIndexer().Replace(items, ""))
	}
	replace(f.Informers.Core().V1().Pods().Informer(), items(pods.Items))
	replace(f.Informers.Apps().V1().StatefulSets().Informer(), items(sets.Items))
	replace(f.Informers.Apps().V1().ControllerRevisions().Informer(), items(revs.Items))
	replace(f.Informers.Core().V1().PersistentVolumeClaims().Informer(), items(pvcs.Items))
}

func items[T any](list []T) []interface{} {
	out := make([]interface{}, len(list))
	for i := range list {
		out[i] = &list[i]
	}
	return out
}

func (f *fixture) check(err error) {
	f.T.Helper()
	if err != nil {
		f.T.Fatal(err)
	}
}

// step refreshes the caches, syncs default/web once and returns the actions it issued.
func (f *fixture) step() []k8stesting.Action {
	f.T.Helper()
	f.refresh()
	return f.Actions("sync default/web", func(ctx context.Context) error {
		_, err := f.C.sync(ctx, "default/web")
		return err
	})
}

// settle runs steps, making every Pending pod Running and Ready after each, until a step
// issues nothing; it returns the pods created in their order.
func (f *fixture) settle() []string {
	f.T.Helper()
	var created []string
	for i := 0; i < 50; i++ {
		acts := f.step()
		for _, p := range controllertest.Created[*corev1.Pod](acts, "pods") {
			created = append(created, p.Name)
		}
		changed := false
		for _, p := range f.pods() {
			if p.Status.Phase == corev1.PodPending {
				f.run(p.Name, true)
				changed = true
			}
		}
		if len(writes(acts)) == 0 && !changed {
			return created
		}
	}
	f.T.Fatal("the controller did not settle in 50 steps")
	return nil
}

// writes are the actions that change something.
func writes(acts []k8stesting.Action) []k8stesting.Action {
	var out []k8stesting.Action
	for _, a := range acts {
		if v := a.GetVerb(); v != "get" && v != "list" && v != "watch" {
			out = append(out, a)
		}
	}
	return out
}

// pods are the clientset's pods of default, by name.
func (f *fixture) pods() []*corev1.Pod {
	f.T.Helper()
	list, err := f.Client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	f.check(err)
	out := make([]*corev1.Pod, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	slices.SortFunc(out, func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (f *fixture) podNames() []string {
	var out []string
	for _, p := range f.pods() {
		out = append(out, p.Name)
	}
	return out
}

func (f *fixture) pod(name string) *corev1.Pod {
	f.T.Helper()
	p, err := f.Client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	f.check(err)
	return p
}

func (f *fixture) claimNames() []string {
	f.T.Helper()
	list, err := f.Client.CoreV1().PersistentVolumeClaims("default").List(context.Background(), metav1.ListOptions{})
	f.check(err)
	var out []string
	for _, c := range list.Items {
		out = append(out, c.Name)
	}
	slices.Sort(out)
	return out
}

// run plays the node agent: the pod is Running, Ready (since the fake clock's now) or not.
func (f *fixture) run(name string, ready bool) {
	f.T.Helper()
	p := f.pod(name)
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st, LastTransitionTime: metav1.NewTime(f.Clock.Now())}}
	f.check(f.Client.Tracker().Update(corev1.SchemeGroupVersion.WithResource("pods"), p, "default"))
}

// setPhase gives the pod a terminal phase.
func (f *fixture) setPhase(name string, phase corev1.PodPhase) {
	f.T.Helper()
	p := f.pod(name)
	p.Status.Phase = phase
	f.check(f.Client.Tracker().Update(corev1.SchemeGroupVersion.WithResource("pods"), p, "default"))
}

func (f *fixture) set() *appsv1.StatefulSet {
	f.T.Helper()
	s, err := f.Client.AppsV1().StatefulSets("default").Get(context.Background(), "web", metav1.GetOptions{})
	f.check(err)
	return s
}

// edit changes the set's spec as a user would (the generation goes up).
func (f *fixture) edit(fn func(*appsv1.StatefulSet)) {
	f.T.Helper()
	s := f.set()
	fn(s)
	s.Generation++
	f.check(f.Client.Tracker().Update(appsv1.SchemeGroupVersion.WithResource("statefulsets"), s, "default"))
}

func (f *fixture) revisions() []*appsv1.ControllerRevision {
	f.T.Helper()
	list, err := f.Client.AppsV1().ControllerRevisions("default").List(context.Background(), metav1.ListOptions{})
	f.check(err)
	out := make([]*appsv1.ControllerRevision, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	sortRevisions(out)
	return out
}

// newSet is the StatefulSet web of replicas pods with the API's defaults and a claim template
// "data".
func newSet(replicas int32) *appsv1.StatefulSet {
	limit, partition := int32(10), int32(0)
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "uid-web", Generation: 1},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            &replicas,
			Selector:            &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			ServiceName:         "web",
			PodManagementPolicy: appsv1.OrderedReadyPodManagement,
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: &partition}},
			RevisionHistoryLimit: &limit,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1",
					VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}}},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceStorage: resource.MustParse("1Gi")}},
				},
			}},
			PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
				WhenDeleted: retain, WhenScaled: retain},
		},
	}
}
