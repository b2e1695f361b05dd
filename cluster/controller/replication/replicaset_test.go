package replication

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"

	"github.com/drover-ci/drover/cluster/controller/controllertest"
)

// rsFixture is the ReplicaSet manager over the fake clientset.
type rsFixture struct {
	*controllertest.Fixture[*Controller]
}

func newRSFixture(t *testing.T, objs ...runtime.Object) *rsFixture {
	t.Helper()
	ff := controllertest.NewFake(t0, 100, objs...)
	ff.NamePods()
	return &rsFixture{controllertest.NewFixture[*Controller](t, ff, NewReplicaSet, objs...)}
}

func (f *rsFixture) sync(key string) []k8stesting.Action {
	f.T.Helper()
	return f.Actions("sync "+key, func(ctx context.Context) error { return f.C.sync(ctx, key) })
}

func rsStatusOf(actions []k8stesting.Action) *appsv1.ReplicaSetStatus {
	if rs, ok := controllertest.LastStatus[*appsv1.ReplicaSet](actions); ok {
		return &rs.Status
	}
	return nil
}

// newRS is a ReplicaSet as the Deployment controller makes them: a set-based selector and
// the pod-template-hash label on selector and template.
func newRS(name string, replicas int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), Generation: 3},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "pod-template-hash": "5d8f"},
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"ci", "qa"}}}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "pod-template-hash": "5d8f", "tier": "ci"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img"}}},
			},
		},
	}
}

func rsPod(name string, rs *appsv1.ReplicaSet, owned bool, created int) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name),
			Labels:            map[string]string{"app": "web", "pod-template-hash": "5d8f", "tier": "qa"},
			CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(created) * time.Second))},
		Spec:   corev1.PodSpec{NodeName: "n1"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	if owned {
		p.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(rs, rsKind)}
	}
	return p
}

func TestReplicaSetCreatesOwnedPodsFromTemplate(t *testing.T) {
	rs := newRS("web-5d8f", 3)
	f := newRSFixture(t, rs)
	actions := f.sync("default/web-5d8f")
	pods := created(actions)
	if len(pods) != 3 {
		t.Fatalf("created %d pods, want 3; actions %v", len(pods), actions)
	}
	for _, p := range pods {
		if p.GenerateName != "web-5d8f-" || p.Labels["pod-template-hash"] != "5d8f" || p.Labels["tier"] != "ci" {
			t.Errorf("pod not made from the template: %+v", p.ObjectMeta)
		}
		want := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-5d8f", UID: rs.UID}
		ref := metav1.GetControllerOf(p)
		if ref == nil || ref.APIVersion != want.APIVersion || ref.Kind != want.Kind || ref.Name != want.Name || ref.UID != want.UID ||
			!*ref.Controller || !*ref.BlockOwnerDeletion {
			t.Errorf("pod controller ref = %+v", ref)
		}
	}
	if n := countPrefix(f.Events(), "Normal SuccessfulCreate Created pod: web-5d8f-"); n != 3 {
		t.Errorf("%d SuccessfulCreate events, want 3", n)
	}
	st := rsStatusOf(actions)
	if st == nil || st.ObservedGeneration != 3 {
		t.Errorf("ReplicaSet status = %+v, want observedGeneration 3 written through replicasets/status", st)
	}
	for _, a := range actions {
		if a.GetResource().Resource == "replicationcontrollers" {
			t.Errorf("ReplicaSet manager touched replication controllers: %v", a)
		}
	}
}

func TestReplicaSetAdoptsBySetSelectorAndLeavesOtherKinds(t *testing.T) {
	rs := newRS("web-5d8f", 3)
	orphan := rsPod("orphan", rs, false, 1) // tier=qa: matched by the In expression
	rc := newRC("web", 1)
	rcOwned := rsPod("rc-owned", rs, false, 2)
	rcOwned.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(rc, rcKind)}
	offSelector := rsPod("prod", rs, false, 3)
	offSelector.Labels["tier"] = "prod"
	mine := rsPod("mine", rs, true, 4)
	f := newRSFixture(t, rs, orphan, rcOwned, offSelector, mine)
	actions := f.sync("default/web-5d8f")
	var patched []string
	for _, a := range actions {
		if a.GetVerb() == "patch" {
			patched = append(patched, a.(k8stesting.PatchAction).GetName())
		}
	}
	if diff := cmp.Diff([]string{"orphan"}, patched); diff != "" {
		t.Errorf("patched (-want +got):\n%s", diff)
	}
	got, err := f.Client.CoreV1().Pods("default").Get(t.Context(), "orphan", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ref := metav1.GetControllerOf(got); ref == nil || ref.Kind != "ReplicaSet" || ref.APIVersion != "apps/v1" || ref.UID != rs.UID {
		t.Errorf("adopted orphan's controller = %+v", ref)
	}
	if n := len(created(actions)); n != 1 {
		t.Errorf("created %d pods, want 1 (two owned, one to make)", n)
	}
}

func TestReplicaSetScaleDownRanksAndReportsAvailability(t *testing.T) {
	rs := newRS("web-5d8f", 1)
	rs.Spec.MinReadySeconds = 30
	now := t0.Add(time.Hour)
	old := ready(rsPod("old", rs, true, 1), now.Add(-time.Hour))
	fresh := ready(rsPod("fresh", rs, true, 2), now.Add(-5*time.Second))
	pending := rsPod("pending", rs, true, 3)
	pending.Status.Phase = corev1.PodPending
	f := newRSFixture(t, rs, old, fresh, pending)
	f.Clock.SetTime(now)
	actions := f.sync("default/web-5d8f")
	if diff := cmp.Diff([]string{"fresh", "pending"}, deleted(actions)); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	st := rsStatusOf(actions)
	want := appsv1.ReplicaSetStatus{Replicas: 3, FullyLabeledReplicas: 0, ReadyReplicas: 2, AvailableReplicas: 1, ObservedGeneration: 3}
	if st == nil || !cmp.Equal(want, *st) {
		t.Errorf("status %+v, want %+v (counted before the deletions land; tier=qa pods are not fully labelled)", st, want)
	}
}

func TestRCAndReplicaSetConversion(t *testing.T) {
	rc := newRC("web", 2)
	rc.Status = corev1.ReplicationControllerStatus{Replicas: 2, ReadyReplicas: 1, ObservedGeneration: 2,
		Conditions: []corev1.ReplicationControllerCondition{{Type: corev1.ReplicationControllerReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate"}}}
	rs := rcToRS(rc)
	if rs.Spec.Selector.MatchLabels["name"] != "web" || *rs.Spec.Replicas != 2 || rs.Spec.Template.Labels["tier"] != "ci" {
		t.Errorf("converted spec %+v", rs.Spec)
	}
	if diff := cmp.Diff(rc.Status, rsStatusToRC(rs.Status)); diff != "" {
		t.Errorf("status round trip (-want +got):\n%s", diff)
	}
}
