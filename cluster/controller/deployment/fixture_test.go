package deployment

import (
	"context"
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

// fixture is a controller over a fake clientset whose informer caches the test fills by hand.
type fixture struct {
	*controllertest.Fixture[*Controller]
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	ff := controllertest.NewFake(t0, 100, objs...)
	return &fixture{controllertest.NewFixture[*Controller](t, ff, New, objs...)}
}

// sync runs one sync of key and returns the actions it issued.
func (f *fixture) sync(key string) []k8stesting.Action {
	f.T.Helper()
	return f.Actions("sync "+key, func(ctx context.Context) error {
		_, err := f.C.sync(ctx, key)
		return err
	})
}

func createdRSs(actions []k8stesting.Action) []*appsv1.ReplicaSet {
	return controllertest.Created[*appsv1.ReplicaSet](actions, "replicasets")
}

// updatedRSs returns the replica sets the actions updated (not their status), in order.
func updatedRSs(actions []k8stesting.Action) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, a := range actions {
		if a.GetVerb() == "update" && a.GetResource().Resource == "replicasets" && a.GetSubresource() == "" {
			out = append(out, a.(k8stesting.UpdateAction).GetObject().(*appsv1.ReplicaSet))
		}
	}
	return out
}

func lastStatus(actions []k8stesting.Action) *appsv1.Deployment {
	d, ok := controllertest.LastStatus[*appsv1.Deployment](actions)
	if !ok {
		return nil
	}
	return d
}

func i32(n int32) *int32 { return &n }

func pct(s string) *intstr.IntOrString { v := intstr.FromString(s); return &v }
func num(n int) *intstr.IntOrString    { v := intstr.FromInt(n); return &v }

// newDeployment is a RollingUpdate Deployment as the API server defaults it.
func newDeployment(name string, replicas int32, surge, unavailable *intstr.IntOrString) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1"}}},
			},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: surge, MaxUnavailable: unavailable}},
			RevisionHistoryLimit:    i32(10),
			ProgressDeadlineSeconds: i32(600),
		},
	}
}

// rsOf is the ReplicaSet d's controller makes for its current template, at revision rev with
// size replicas, all of them available, created at t0+age seconds.
func rsOf(d *appsv1.Deployment, rev string, size int32, age int) *appsv1.ReplicaSet {
	rs, err := newReplicaSetFor(d, nil, rev)
	if err != nil {
		panic(err)
	}
	rs.UID = types.UID("uid-" + rs.Name)
	rs.CreationTimestamp = metav1.NewTime(t0.Add(time.Duration(age) * time.Second))
	rs.Spec.Replicas = &size
	setReplicasAnnotations(rs, replicas(d), replicas(d)+maxSurge(d))
	rs.Status = appsv1.ReplicaSetStatus{Replicas: size, ReadyReplicas: size, AvailableReplicas: size}
	return rs
}
