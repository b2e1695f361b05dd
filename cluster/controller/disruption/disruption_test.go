package disruption

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/drover-ci/drover/cluster/controller/controllertest"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type fixture struct {
	*controllertest.Fixture[*Controller]
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	ff := controllertest.NewFake(t0, 1000, objs...)
	return &fixture{controllertest.NewFixture[*Controller](t, ff, New, objs...)}
}

// sync runs one sync and returns the status it wrote (nil: none) and the requeue.
func (f *fixture) sync(key string) (*policyv1.PodDisruptionBudgetStatus, time.Duration) {
	f.T.Helper()
	var after time.Duration
	actions := f.Actions("sync "+key, func(ctx context.Context) (err error) {
		after, err = f.C.sync(ctx, key)
		return err
	})
	pdb, ok := controllertest.LastStatus[*policyv1.PodDisruptionBudget](actions)
	if !ok {
		return nil, after
	}
	return &pdb.Status, after
}

func newPDB(minAvailable, maxUnavailable *intstr.IntOrString) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Generation: 3},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: minAvailable, MaxUnavailable: maxUnavailable,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}
}

func newRS(replicas int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-rs", Namespace: "default", UID: "uid-rs"},
		Spec: appsv1.ReplicaSetSpec{Replicas: &replicas}}
}

// pods are n pods of owner (nil: unmanaged), the first ready of them Ready.
func pods(owner metav1.Object, kind string, n, ready int) []runtime.Object {
	var out []runtime.Object
	for i := range n {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-%d", i), Namespace: "default",
			UID: types.UID(fmt.Sprintf("uid-web-%d", i)), Labels: map[string]string{"app": "web"}}}
		if owner != nil {
			p.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(owner, appsv1.SchemeGroupVersion.WithKind(kind))}
		}
		if i < ready {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		}
		out = append(out, p)
	}
	return out
}

func intOrStr(s string) *intstr.IntOrString {
	v := intstr.Parse(s)
	return &v
}

func TestStatusFromBudgets(t *testing.T) {
	cases := []struct {
		name                                string
		min, maxU                           *intstr.IntOrString
		replicas                            int32
		pods, ready                         int
		healthy, desired, expected, allowed int32
		reason                              string
	}{
		{"minAvailable 2 of 3 ready", intOrStr("2"), nil, 3, 3, 3, 3, 2, 3, 1, policyv1.SufficientPodsReason},
		{"minAvailable 2, 2 ready", intOrStr("2"), nil, 3, 3, 2, 2, 2, 3, 0, policyv1.InsufficientPodsReason},
		{"minAvailable 50% of 5 rounds up", intOrStr("50%"), nil, 5, 5, 5, 5, 3, 5, 2, policyv1.SufficientPodsReason},
		{"maxUnavailable 1", nil, intOrStr("1"), 3, 3, 3, 3, 2, 3, 1, policyv1.SufficientPodsReason},
		{"maxUnavailable 34% of 3", nil, intOrStr("34%"), 3, 3, 3, 3, 1, 3, 2, policyv1.SufficientPodsReason},
		// The scale counts, not the pods that exist: 4 wanted, 3 there and ready.
		{"maxUnavailable 1 of scale 4", nil, intOrStr("1"), 4, 3, 3, 3, 3, 4, 0, policyv1.InsufficientPodsReason},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := newRS(tc.replicas)
			objs := append([]runtime.Object{newPDB(tc.min, tc.maxU), rs}, pods(rs, "ReplicaSet", tc.pods, tc.ready)...)
			f := newFixture(t, objs...)
			st, _ := f.sync("default/web")
			if st == nil {
				t.Fatal("no status written")
			}
			if st.CurrentHealthy != tc.healthy || st.DesiredHealthy != tc.desired || st.ExpectedPods != tc.expected ||
				st.DisruptionsAllowed != tc.allowed || st.ObservedGeneration != 3 {
				t.Fatalf("status = %+v", st)
			}
			cond := apimeta.FindStatusCondition(st.Conditions, policyv1.DisruptionAllowedCondition)
			if cond == nil || cond.Reason != tc.reason || (cond.Status == metav1.ConditionTrue) != (tc.allowed > 0) {
				t.Fatalf("condition = %+v", cond)
			}
		})
	}
}

func TestDeploymentScaleCounts(t *testing.T) {
	replicas := int32(4)
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "uid-d"},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas}}
	rs := newRS(2)
	rs.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(d, appsv1.SchemeGroupVersion.WithKind("Deployment"))}
	objs := append([]runtime.Object{newPDB(intOrStr("50%"), nil), d, rs}, pods(rs, "ReplicaSet", 2, 2)...)
	f := newFixture(t, objs...)
	st, _ := f.sync("default/web")
	if st == nil || st.ExpectedPods != 4 || st.DesiredHealthy != 2 || st.DisruptionsAllowed != 0 {
		t.Fatalf("status = %+v, want the Deployment's scale 4 expected", st)
	}
}

func TestDisruptedPodsExpireAndDoNotCount(t *testing.T) {
	rs := newRS(3)
	pdb := newPDB(intOrStr("2"), nil)
	pdb.Status.DisruptedPods = map[string]metav1.Time{
		"web-0": metav1.NewTime(t0.Add(-30 * time.Second)), // fresh: web-0 does not count as healthy
		"web-1": metav1.NewTime(t0.Add(-3 * time.Minute)),  // expired: dropped
		"gone":  metav1.NewTime(t0),                        // no such pod: dropped
	}
	f := newFixture(t, append([]runtime.Object{pdb, rs}, pods(rs, "ReplicaSet", 3, 3)...)...)
	st, after := f.sync("default/web")
	if st == nil || st.CurrentHealthy != 2 || st.DisruptionsAllowed != 0 || len(st.DisruptedPods) != 1 {
		t.Fatalf("status = %+v", st)
	}
	if _, ok := st.DisruptedPods["web-0"]; !ok {
		t.Fatalf("disruptedPods = %v", st.DisruptedPods)
	}
	if after != DeletionTimeout-30*time.Second {
		t.Fatalf("recheck after %v, want %v (when web-0's entry expires)", after, DeletionTimeout-30*time.Second)
	}
}

func TestUnknownControllerFailsSafe(t *testing.T) {
	pdb := newPDB(nil, intOrStr("1"))
	pdb.Status.DisruptionsAllowed = 5
	orphanOwner := newRS(1) // not in the cache: nobody knows the pods' controller
	f := newFixture(t, append([]runtime.Object{pdb}, pods(orphanOwner, "ReplicaSet", 2, 2)...)...)
	st, _ := f.sync("default/web")
	if st == nil || st.DisruptionsAllowed != 0 {
		t.Fatalf("status = %+v, want disruptionsAllowed 0", st)
	}
	cond := apimeta.FindStatusCondition(st.Conditions, policyv1.DisruptionAllowedCondition)
	if cond == nil || cond.Reason != policyv1.SyncFailedReason || cond.Status != metav1.ConditionFalse {
		t.Fatalf("condition = %+v", cond)
	}
}

func TestUnmanagedPodsWithIntegerMinAvailable(t *testing.T) {
	f := newFixture(t, append([]runtime.Object{newPDB(intOrStr("1"), nil)}, pods(nil, "", 2, 2)...)...)
	st, _ := f.sync("default/web")
	if st == nil || st.ExpectedPods != 2 || st.DisruptionsAllowed != 1 {
		t.Fatalf("status = %+v", st)
	}
}

func TestNoRewriteWhenCurrent(t *testing.T) {
	rs := newRS(3)
	f := newFixture(t, append([]runtime.Object{newPDB(intOrStr("2"), nil), rs}, pods(rs, "ReplicaSet", 3, 3)...)...)
	st, _ := f.sync("default/web")
	pdb := newPDB(intOrStr("2"), nil)
	pdb.Status = *st
	f.Put(pdb)
	if st2, _ := f.sync("default/web"); st2 != nil {
		t.Fatalf("status rewritten although current: %+v", st2)
	}
}

func TestStaleDisruptionTargetReset(t *testing.T) {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "default"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.DisruptionTarget,
			Status: corev1.ConditionTrue, Reason: "EvictionByEvictionAPI", LastTransitionTime: metav1.NewTime(t0.Add(-time.Minute))}}}}
	f := newFixture(t, p)
	var after time.Duration
	actions := f.Actions("stale", func(ctx context.Context) (err error) {
		after, err = f.C.syncStalePodDisruption(ctx, "default/web-0")
		return err
	})
	if len(actions) != 0 || after != time.Minute {
		t.Fatalf("fresh condition: actions %v, requeue %v; want none and 1m", actions, after)
	}
	f.Clock.Step(time.Minute)
	actions = f.Actions("stale", func(ctx context.Context) (err error) {
		_, err = f.C.syncStalePodDisruption(ctx, "default/web-0")
		return err
	})
	upd, ok := controllertest.LastStatus[*corev1.Pod](actions)
	if !ok || upd.Status.Conditions[0].Status != corev1.ConditionFalse {
		t.Fatalf("stale condition not reset: %v", actions)
	}
}
