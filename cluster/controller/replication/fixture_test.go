package replication

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"

	"github.com/drover-ci/drover/cluster/controller/controllertest"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fixture is a controller over a fake clientset whose informer caches the test fills by hand
// (the sample-controller style): nothing reaches the caches unless the test puts it there (Put).
type fixture struct {
	*controllertest.Fixture[*Controller]
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	ff := controllertest.NewFake(t0, 100, objs...)
	ff.NamePods()
	return &fixture{controllertest.NewFixture[*Controller](t, ff, New, objs...)}
}

// sync runs one sync of the controller key and clears the actions it issued into the result.
func (f *fixture) sync(key string) []k8stesting.Action {
	f.T.Helper()
	return f.Actions("sync "+key, func(ctx context.Context) error { return f.C.sync(ctx, key) })
}

// created returns the pods the actions created.
func created(actions []k8stesting.Action) []*corev1.Pod {
	return controllertest.Created[*corev1.Pod](actions, "pods")
}

// deleted returns the names of the pods the actions deleted, sorted.
func deleted(actions []k8stesting.Action) []string {
	return sorted(controllertest.Deleted(actions, "pods"))
}

// statusOf returns the status the last status update wrote, or nil.
func statusOf(actions []k8stesting.Action) *corev1.ReplicationControllerStatus {
	if rc, ok := controllertest.LastStatus[*corev1.ReplicationController](actions); ok {
		return &rc.Status
	}
	return nil
}

func (f *fixture) events() []string { return f.Events() }

func countPrefix(events []string, prefix string) int {
	n := 0
	for _, e := range events {
		if strings.HasPrefix(e, prefix) {
			n++
		}
	}
	return n
}

func newRC(name string, replicas int32) *corev1.ReplicationController {
	return &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), Generation: 2},
		Spec: corev1.ReplicationControllerSpec{
			Replicas: &replicas,
			Selector: map[string]string{"name": name},
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"name": name, "tier": "ci"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img"}}},
			},
		},
	}
}

// newPod is a pod of rc (owned when owned is true) created at t0+age seconds.
func newPod(name string, rc *corev1.ReplicationController, owned bool, created int) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name),
			Labels:            map[string]string{"name": rc.Name, "tier": "ci"},
			CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(created) * time.Second))},
		Spec:   corev1.PodSpec{NodeName: "n1"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	if owned {
		p.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(rc, rcKind)}
	}
	return p
}

func ready(p *corev1.Pod, since time.Time) *corev1.Pod {
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue,
		LastTransitionTime: metav1.NewTime(since)}}
	return p
}
