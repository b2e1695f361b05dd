package daemonset

import (
	"context"
	"sort"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	k8stesting "k8s.io/client-go/testing"

	"github.com/drover-ci/drover/cluster/controller/controllertest"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type fixture struct {
	*controllertest.Fixture[*Controller]
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	ff := controllertest.NewFake(t0, 1000, objs...)
	ff.NamePods()
	return &fixture{controllertest.NewFixture[*Controller](t, ff, New, objs...)}
}

func (f *fixture) sync(key string) []k8stesting.Action {
	f.T.Helper()
	return f.Actions("sync "+key, func(ctx context.Context) error { return f.C.sync(ctx, key) })
}

// createdOn maps each pod the actions created to the node its affinity names.
func createdOn(t *testing.T, actions []k8stesting.Action) []string {
	t.Helper()
	var out []string
	for _, p := range controllertest.Created[*corev1.Pod](actions, "pods") {
		n, err := targetNode(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func deleted(actions []k8stesting.Action) []string {
	out := controllertest.Deleted(actions, "pods")
	sort.Strings(out)
	return out
}

func statusOf(actions []k8stesting.Action) *appsv1.DaemonSetStatus {
	if ds, ok := controllertest.LastStatus[*appsv1.DaemonSet](actions); ok {
		return &ds.Status
	}
	return nil
}

func readyNode(name string, labels map[string]string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, UID: types.UID("uid-" + name)},
		Spec:       corev1.NodeSpec{Taints: taints},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}},
	}
}

func newDS(name string) *appsv1.DaemonSet {
	one := intstr.FromInt32(1)
	zero := intstr.FromInt32(0)
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), Generation: 1},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1"}}},
			},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &one, MaxSurge: &zero}},
		},
	}
}

// daemonPod is a pod of ds bound to node, of revision hash, created at t0+age seconds.
func daemonPod(name string, ds *appsv1.DaemonSet, node, hash string, age int) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name),
			Labels:            map[string]string{"app": ds.Name, appsv1.DefaultDaemonSetUniqueLabelKey: hash},
			CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(age) * time.Second)),
			OwnerReferences:   []metav1.OwnerReference{*metav1.NewControllerRef(ds, dsKind)},
		},
		Spec:   corev1.PodSpec{NodeName: node, Affinity: nodeAffinityFor(nil, node)},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	return p
}

func ready(p *corev1.Pod) *corev1.Pod {
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0)}}
	return p
}

// currentHash is the hash the controller gives ds's current template.
func currentHash(ds *appsv1.DaemonSet) string {
	return computeHash(&ds.Spec.Template, ds.Status.CollisionCount)
}
