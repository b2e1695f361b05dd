package replication

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/drover-ci/drover/cluster/controller"
)

func sorted(s []string) []string { slices.Sort(s); return s }

func TestSyncCreatesUpToReplicasFromTemplate(t *testing.T) {
	rc := newRC("jenkins-slave", 3)
	f := newFixture(t, rc)
	actions := f.sync("default/jenkins-slave")
	pods := created(actions)
	if len(pods) != 3 {
		t.Fatalf("created %d pods, want 3; actions %v", len(pods), actions)
	}
	for _, p := range pods {
		if p.GenerateName != "jenkins-slave-" || p.Labels["tier"] != "ci" || p.Spec.Containers[0].Image != "img" {
			t.Errorf("pod not made from the template: %+v", p.ObjectMeta)
		}
		ref := metav1.GetControllerOf(p)
		if ref == nil || ref.UID != rc.UID || ref.Kind != "ReplicationController" || !*ref.BlockOwnerDeletion {
			t.Errorf("pod %s controller ref = %+v", p.Name, ref)
		}
	}
	if n := countPrefix(f.events(), "Normal SuccessfulCreate Created pod: jenkins-slave-"); n != 3 {
		t.Errorf("%d SuccessfulCreate events, want 3", n)
	}
	if adds, _ := f.C.exp.Pending("default/jenkins-slave"); adds != 3 {
		t.Errorf("pending creations = %d, want 3", adds)
	}
	st := statusOf(actions)
	if st == nil || st.Replicas != 0 || st.ObservedGeneration != 2 {
		t.Errorf("status = %+v, want 0 replicas observed at generation 2 (the cache has no pods yet)", st)
	}
}

// TestExpectationsPreventDoubleCreation: while the informer has not shown the created pods,
// further syncs create nothing; once it has, the controller is content; and after
// ExpectationsTimeout without them it acts again.
func TestExpectationsPreventDoubleCreation(t *testing.T) {
	rc := newRC("web", 2)
	f := newFixture(t, rc)
	f.sync("default/web")
	for i := 0; i < 3; i++ {
		if got := created(f.sync("default/web")); len(got) != 0 {
			t.Fatalf("sync %d with a lagging cache created %d more pods", i+2, len(got))
		}
	}
	f.Clock.Step(controller.ExpectationsTimeout + time.Second)
	if got := created(f.sync("default/web")); len(got) != 2 {
		t.Fatalf("after the expectations timeout: created %d, want 2", len(got))
	}

	// Now the informer delivers pods: each one is credited, and with 2 active pods there is
	// nothing to do.
	f2 := newFixture(t, rc)
	f2.sync("default/web")
	list, err := f2.Client.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{})
	if err != nil || len(list.Items) != 2 {
		t.Fatalf("pods in the API: %v, %v", list, err)
	}
	for i := range list.Items {
		p := &list.Items[i]
		f2.Put(p)
		f2.C.addPod(p)
	}
	if adds, _ := f2.C.exp.Pending("default/web"); adds != 0 {
		t.Fatalf("pending creations after the informer showed them = %d", adds)
	}
	actions := f2.sync("default/web")
	if len(created(actions)) != 0 || len(deleted(actions)) != 0 {
		t.Errorf("sync with a caught-up cache acted: %v", actions)
	}
	if st := statusOf(actions); st == nil || st.Replicas != 2 || st.FullyLabeledReplicas != 2 || st.ReadyReplicas != 0 {
		t.Errorf("status = %+v", st)
	}
}

func TestSyncDeletesSurplusInKubernetesOrder(t *testing.T) {
	rc := newRC("web", 2)
	unassigned := newPod("unassigned", rc, true, 1)
	unassigned.Spec.NodeName, unassigned.Status.Phase = "", corev1.PodPending
	pending := newPod("pending", rc, true, 2)
	pending.Status.Phase = corev1.PodPending
	notReady := newPod("not-ready", rc, true, 3)
	oldReady := ready(newPod("old-ready", rc, true, 4), t0.Add(time.Minute))
	newReady := ready(newPod("new-ready", rc, true, 5), t0.Add(2*time.Minute))
	f := newFixture(t, rc, unassigned, pending, notReady, oldReady, newReady)
	actions := f.sync("default/web")
	if diff := cmp.Diff([]string{"not-ready", "pending", "unassigned"}, deleted(actions)); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	if n := countPrefix(f.events(), "Normal SuccessfulDelete"); n != 3 {
		t.Errorf("%d SuccessfulDelete events", n)
	}
	if _, dels := f.C.exp.Pending("default/web"); dels != 3 {
		t.Errorf("pending deletions = %d, want 3", dels)
	}
	if got := deleted(f.sync("default/web")); len(got) != 0 {
		t.Errorf("second sync before the deletes were observed deleted %v", got)
	}
	// A graceful deletion seen as an update, then the delete itself: counted once each.
	for _, p := range []*corev1.Pod{unassigned, pending, notReady} {
		f.C.deletePod(p)
		f.C.deletePod(p)
	}
	if !f.C.exp.Satisfied("default/web") {
		t.Error("expectations not satisfied after the deletions were observed")
	}
}

func TestPodsToDeleteRanking(t *testing.T) {
	rc := newRC("web", 0)
	readyLong := ready(newPod("ready-long", rc, true, 1), t0)
	readyShort := ready(newPod("ready-short", rc, true, 2), t0.Add(time.Hour))
	restarts := ready(newPod("restarts", rc, true, 3), t0)
	restarts.Status.ContainerStatuses = []corev1.ContainerStatus{{RestartCount: 4}}
	doubled1 := ready(newPod("doubled-1", rc, true, 4), t0)
	doubled2 := ready(newPod("doubled-2", rc, true, 5), t0)
	doubled1.Spec.NodeName, doubled2.Spec.NodeName = "n2", "n2"
	readyLong.Spec.NodeName, readyShort.Spec.NodeName, restarts.Spec.NodeName = "n1", "n3", "n4"
	cheap := ready(newPod("cheap", rc, true, 6), t0)
	cheap.Spec.NodeName = "n5"
	cheap.Annotations = map[string]string{deletionCostAnnotation: "-10"}
	unknown := newPod("unknown", rc, true, 7)
	unknown.Status.Phase, unknown.Spec.NodeName = corev1.PodUnknown, "n6"
	pods := []*corev1.Pod{readyLong, readyShort, restarts, doubled1, doubled2, cheap, unknown}
	var got []string
	for _, p := range podsToDelete(pods, len(pods)-1) {
		got = append(got, p.Name)
	}
	want := []string{"unknown", "cheap", "doubled-2", "doubled-1", "ready-short", "restarts"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("deletion order (-want +got):\n%s", diff)
	}
}

func TestClaimAdoptsOrphansAndReleasesMismatches(t *testing.T) {
	rc := newRC("web", 2)
	orphan := newPod("orphan", rc, false, 1)
	strayed := newPod("strayed", rc, true, 2)
	strayed.Labels = map[string]string{"name": "other"}
	foreign := newPod("foreign", rc, false, 3)
	other := newRC("other", 1)
	foreign.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(other, rcKind)}
	dying := newPod("dying", rc, false, 4)
	now := metav1.NewTime(t0)
	dying.DeletionTimestamp = &now
	f := newFixture(t, rc, orphan, strayed, foreign, dying)
	actions := f.sync("default/web")

	var patched []string
	for _, a := range actions {
		if a.GetVerb() == "patch" {
			patched = append(patched, a.(k8stesting.PatchAction).GetName())
		}
	}
	if diff := cmp.Diff([]string{"orphan", "strayed"}, sorted(patched)); diff != "" {
		t.Errorf("patched pods (-want +got):\n%s", diff)
	}
	got, err := f.Client.CoreV1().Pods("default").Get(t.Context(), "orphan", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ref := metav1.GetControllerOf(got); ref == nil || ref.UID != rc.UID || !*ref.BlockOwnerDeletion {
		t.Errorf("orphan's controller after adoption = %+v", ref)
	}
	got, err = f.Client.CoreV1().Pods("default").Get(t.Context(), "strayed", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.OwnerReferences) != 0 {
		t.Errorf("strayed pod still has owners %+v", got.OwnerReferences)
	}
	// One pod adopted, one to create; the foreign and dying pods are not counted.
	if n := len(created(actions)); n != 1 {
		t.Errorf("created %d pods, want 1", n)
	}
}

func TestCreateFailureSetsReplicaFailure(t *testing.T) {
	rc := newRC("web", 4)
	f := newFixture(t, rc)
	f.Client.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("quota exceeded")
	})
	f.Client.ClearActions()
	err := f.C.sync(t.Context(), "default/web")
	if err == nil {
		t.Fatal("sync with failing creates returned no error")
	}
	actions := f.Client.Actions()
	if n := len(created(actions)); n != 1 {
		t.Errorf("tried %d creates, want 1 (slow start stops after the first failed batch)", n)
	}
	st := statusOf(actions)
	if st == nil || len(st.Conditions) != 1 || st.Conditions[0].Type != corev1.ReplicationControllerReplicaFailure ||
		st.Conditions[0].Reason != "FailedCreate" {
		t.Fatalf("status = %+v, want a ReplicaFailure FailedCreate condition", st)
	}
	if n := countPrefix(f.events(), "Warning FailedCreate Error creating: quota exceeded"); n != 1 {
		t.Errorf("%d FailedCreate events", n)
	}
	if !f.C.exp.Satisfied("default/web") {
		t.Error("failed creates still expected")
	}
}

func TestSlowStartBatch(t *testing.T) {
	ok, err := slowStartBatch(10, 1, func() error { return nil })
	if ok != 10 || err != nil {
		t.Errorf("all succeed: %d, %v", ok, err)
	}
	fail := make(chan struct{}, 1)
	fail <- struct{}{}
	started := make(chan struct{}, 20)
	ok, err = slowStartBatch(10, 1, func() error {
		started <- struct{}{}
		if len(started) >= 4 { // a call of the third batch (1+2+...)
			select {
			case <-fail:
				return errors.New("boom")
			default:
			}
		}
		return nil
	})
	if err == nil || ok != 6 || len(started) != 7 {
		t.Errorf("failure in batch 3: %d successes, %d calls, err %v; want 6, 7, error", ok, len(started), err)
	}
}

func TestCalculateStatusAvailability(t *testing.T) {
	rc := newRC("web", 3)
	rc.Spec.MinReadySeconds = 30
	now := t0.Add(time.Hour)
	long := ready(newPod("long", rc, true, 1), now.Add(-time.Minute))
	fresh := ready(newPod("fresh", rc, true, 2), now.Add(-10*time.Second))
	partial := newPod("partial", rc, true, 3)
	partial.Labels = map[string]string{"name": "web"}
	st := calculateStatus(rcToRS(rc), []*corev1.Pod{long, fresh, partial}, nil, now)
	want := appsv1.ReplicaSetStatus{Replicas: 3, FullyLabeledReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 1, ObservedGeneration: 2}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	rc.Status.Conditions = []corev1.ReplicationControllerCondition{{Type: corev1.ReplicationControllerReplicaFailure}}
	if st := calculateStatus(rcToRS(rc), nil, nil, now); len(st.Conditions) != 0 {
		t.Errorf("ReplicaFailure kept after a successful sync: %+v", st.Conditions)
	}
}
