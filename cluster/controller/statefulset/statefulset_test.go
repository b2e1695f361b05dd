package statefulset

import (
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/drover-ci/drover/cluster/controller/controllertest"
)

func createdPods(acts []k8stesting.Action) []string {
	var out []string
	for _, p := range controllertest.Created[*corev1.Pod](acts, "pods") {
		out = append(out, p.Name)
	}
	return out
}

func createdClaims(acts []k8stesting.Action) []string {
	var out []string
	for _, c := range controllertest.Created[*corev1.PersistentVolumeClaim](acts, "persistentvolumeclaims") {
		out = append(out, c.Name)
	}
	return out
}

func deletedPods(acts []k8stesting.Action) []string { return controllertest.Deleted(acts, "pods") }

// TestOrderedReadyCreatesInOrder: web-0 with its claim data-web-0 first; web-1 only once web-0
// is Running and Ready; the pods carry their identity, claim, owner and revision.
func TestOrderedReadyCreatesInOrder(t *testing.T) {
	f := newFixture(t, newSet(3))
	acts := f.step()
	if got := createdClaims(acts); !slices.Equal(got, []string{"data-web-0"}) {
		t.Fatalf("claims created %v, want data-web-0", got)
	}
	if got := createdPods(acts); !slices.Equal(got, []string{"web-0"}) {
		t.Fatalf("pods created %v, want web-0", got)
	}
	p := f.pod("web-0")
	if p.Spec.Hostname != "web-0" || p.Spec.Subdomain != "web" {
		t.Errorf("hostname %q subdomain %q, want web-0 and web", p.Spec.Hostname, p.Spec.Subdomain)
	}
	st := f.set().Status
	wantLabels := map[string]string{"app": "web", appsv1.StatefulSetPodNameLabel: "web-0", appsv1.PodIndexLabel: "0",
		appsv1.StatefulSetRevisionLabel: st.UpdateRevision}
	for k, v := range wantLabels {
		if p.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, p.Labels[k], v)
		}
	}
	if len(p.Spec.Volumes) != 1 || p.Spec.Volumes[0].Name != "data" || p.Spec.Volumes[0].PersistentVolumeClaim == nil ||
		p.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "data-web-0" {
		t.Errorf("volumes %+v, want data → claim data-web-0", p.Spec.Volumes)
	}
	if ref := metav1.GetControllerOf(p); ref == nil || ref.Kind != "StatefulSet" || ref.Name != "web" || ref.UID != "uid-web" {
		t.Errorf("controller of web-0 = %+v", ref)
	}
	// Like Kubernetes, the status of the sync that created web-0 does not count it yet.
	if st.Replicas != 0 || st.ObservedGeneration != 1 || st.CurrentRevision == "" || st.CurrentRevision != st.UpdateRevision ||
		st.CollisionCount == nil || *st.CollisionCount != 0 {
		t.Errorf("status %+v", st)
	}
	if !strings.HasPrefix(st.UpdateRevision, "web-") {
		t.Errorf("update revision %q, want web-HASH", st.UpdateRevision)
	}
	if got := createdPods(f.step()); len(got) != 0 {
		t.Fatalf("created %v while web-0 is Pending", got)
	}
	if st := f.set().Status; st.Replicas != 1 || st.ReadyReplicas != 0 || st.CurrentReplicas != 1 || st.UpdatedReplicas != 1 {
		t.Errorf("status with web-0 Pending %+v", st)
	}
	f.run("web-0", false)
	if got := createdPods(f.step()); len(got) != 0 {
		t.Fatalf("created %v while web-0 is not Ready", got)
	}
	f.run("web-0", true)
	if got := createdPods(f.step()); !slices.Equal(got, []string{"web-1"}) {
		t.Fatalf("created %v after web-0 became Ready, want web-1", got)
	}
	if got := f.settle(); !slices.Equal(got, []string{"web-2"}) {
		t.Fatalf("then created %v, want web-2", got)
	}
	if got := f.claimNames(); !slices.Equal(got, []string{"data-web-0", "data-web-1", "data-web-2"}) {
		t.Errorf("claims %v", got)
	}
	st = f.set().Status
	if st.Replicas != 3 || st.ReadyReplicas != 3 || st.AvailableReplicas != 3 || st.CurrentReplicas != 3 ||
		st.UpdatedReplicas != 3 || st.CurrentRevision != st.UpdateRevision {
		t.Errorf("status %+v", st)
	}
	if n := len(f.revisions()); n != 1 {
		t.Errorf("%d revisions, want 1", n)
	}
	events := strings.Join(f.Events(), "\n")
	for _, want := range []string{"Normal SuccessfulCreate create Claim data-web-0 Pod web-0 in StatefulSet web success",
		"Normal SuccessfulCreate create Pod web-2 in StatefulSet web successful"} {
		if !strings.Contains(events, want) {
			t.Errorf("events lack %q:\n%s", want, events)
		}
	}
}

// TestParallelCreatesAll: Parallel pod management creates every pod in one sync.
func TestParallelCreatesAll(t *testing.T) {
	set := newSet(3)
	set.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
	f := newFixture(t, set)
	got := createdPods(f.step())
	slices.Sort(got)
	if !slices.Equal(got, []string{"web-0", "web-1", "web-2"}) {
		t.Fatalf("created %v, want all three", got)
	}
	f.edit(func(s *appsv1.StatefulSet) { s.Spec.Replicas = ptr(int32(0)) })
	f.refresh()
	del := deletedPods(f.step())
	slices.Sort(del)
	if !slices.Equal(del, []string{"web-0", "web-1", "web-2"}) {
		t.Fatalf("deleted %v, want all three at once", del)
	}
}

// TestScaleDownHighestFirst: the highest ordinal goes first, one at a time, waiting for the
// terminating pod; claims stay.
func TestScaleDownHighestFirst(t *testing.T) {
	f := newFixture(t, newSet(3))
	f.settle()
	f.edit(func(s *appsv1.StatefulSet) { s.Spec.Replicas = ptr(int32(1)) })
	f.terminateOnDelete()
	if got := deletedPods(f.step()); !slices.Equal(got, []string{"web-2"}) {
		t.Fatalf("deleted %v, want web-2", got)
	}
	if got := deletedPods(f.step()); len(got) != 0 {
		t.Fatalf("deleted %v while web-2 terminates", got)
	}
	f.finishTermination("web-2")
	if got := deletedPods(f.step()); !slices.Equal(got, []string{"web-1"}) {
		t.Fatalf("deleted %v, want web-1", got)
	}
	f.finishTermination("web-1")
	if acts := writes(f.step()); len(deletedPods(acts)) != 0 {
		t.Fatalf("deleted %v with one pod left", deletedPods(acts))
	}
	if got := f.podNames(); !slices.Equal(got, []string{"web-0"}) {
		t.Errorf("pods %v", got)
	}
	if got := f.claimNames(); !slices.Equal(got, []string{"data-web-0", "data-web-1", "data-web-2"}) {
		t.Errorf("claims %v, want all kept", got)
	}
	st := f.set().Status
	if st.Replicas != 1 || st.ReadyReplicas != 1 || st.ObservedGeneration != 2 {
		t.Errorf("status %+v", st)
	}
}

// TestScaleDownWaitsForUnhealthy: OrderedReady deletes nothing while a lower pod is not Ready.
func TestScaleDownWaitsForUnhealthy(t *testing.T) {
	f := newFixture(t, newSet(3))
	f.settle()
	f.run("web-0", false)
	f.edit(func(s *appsv1.StatefulSet) { s.Spec.Replicas = ptr(int32(2)) })
	if got := deletedPods(f.step()); len(got) != 0 {
		t.Fatalf("deleted %v while web-0 is not Ready", got)
	}
	f.run("web-0", true)
	if got := deletedPods(f.step()); !slices.Equal(got, []string{"web-2"}) {
		t.Fatalf("deleted %v, want web-2", got)
	}
}

// TestFailedPodIsReplaced: a failed pod is deleted and comes back under its name with the
// same claim (no new claim).
func TestFailedPodIsReplaced(t *testing.T) {
	f := newFixture(t, newSet(3))
	f.settle()
	f.setPhase("web-1", corev1.PodFailed)
	if got := deletedPods(f.step()); !slices.Equal(got, []string{"web-1"}) {
		t.Fatalf("deleted %v, want web-1", got)
	}
	acts := f.step()
	if got := createdPods(acts); !slices.Equal(got, []string{"web-1"}) {
		t.Fatalf("created %v, want web-1", got)
	}
	if got := createdClaims(acts); len(got) != 0 {
		t.Errorf("created claims %v, want data-web-1 reused", got)
	}
	if v := f.pod("web-1").Spec.Volumes[0].PersistentVolumeClaim.ClaimName; v != "data-web-1" {
		t.Errorf("new web-1 mounts %s", v)
	}
}

// TestRollingUpdateWithPartition: a new template makes a second revision; only ordinals ≥
// partition are replaced, highest first, each waiting for the previous to be Ready; lowering
// the partition to 0 finishes and the update revision becomes current.
func TestRollingUpdateWithPartition(t *testing.T) {
	f := newFixture(t, newSet(3))
	f.settle()
	rev1 := f.set().Status.CurrentRevision
	f.edit(func(s *appsv1.StatefulSet) {
		s.Spec.Template.Spec.Containers[0].Image = "img:2"
		s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr(int32(1))
	})
	f.terminateOnDelete()
	if got := deletedPods(f.step()); !slices.Equal(got, []string{"web-2"}) {
		t.Fatalf("deleted %v, want web-2", got)
	}
	st := f.set().Status
	rev2 := st.UpdateRevision
	if rev2 == rev1 || st.CurrentRevision != rev1 {
		t.Fatalf("revisions current %s update %s, want %s and a new one", st.CurrentRevision, rev2, rev1)
	}
	if got := deletedPods(f.step()); len(got) != 0 {
		t.Fatalf("deleted %v while web-2 terminates", got)
	}
	f.finishTermination("web-2")
	if got := createdPods(f.step()); !slices.Equal(got, []string{"web-2"}) {
		t.Fatalf("created %v, want web-2", got)
	}
	if p := f.pod("web-2"); p.Spec.Containers[0].Image != "img:2" || podRevision(p) != rev2 {
		t.Errorf("web-2 image %s revision %s", p.Spec.Containers[0].Image, podRevision(p))
	}
	if got := deletedPods(f.step()); len(got) != 0 {
		t.Fatalf("deleted %v while the new web-2 is not Ready", got)
	}
	f.run("web-2", true)
	if got := deletedPods(f.step()); !slices.Equal(got, []string{"web-1"}) {
		t.Fatalf("deleted %v once web-2 is Ready, want web-1", got)
	}
	f.finishTermination("web-1")
	f.settle()
	if p := f.pod("web-0"); p.Spec.Containers[0].Image != "img:1" || podRevision(p) != rev1 {
		t.Errorf("web-0 image %s revision %s, want untouched below the partition", p.Spec.Containers[0].Image, podRevision(p))
	}
	if p := f.pod("web-1"); p.Spec.Containers[0].Image != "img:2" || podRevision(p) != rev2 {
		t.Errorf("web-1 image %s revision %s, want updated", p.Spec.Containers[0].Image, podRevision(p))
	}
	st = f.set().Status
	if st.CurrentReplicas != 1 || st.UpdatedReplicas != 2 || st.CurrentRevision != rev1 || st.UpdateRevision != rev2 {
		t.Errorf("partitioned status %+v", st)
	}
	f.edit(func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr(int32(0)) })
	if got := deletedPods(f.step()); !slices.Equal(got, []string{"web-0"}) {
		t.Fatalf("deleted %v, want web-0", got)
	}
	f.finishTermination("web-0")
	f.settle()
	for _, name := range []string{"web-0", "web-1", "web-2"} {
		if p := f.pod(name); podRevision(p) != rev2 {
			t.Errorf("%s at %s, want %s", name, podRevision(p), rev2)
		}
	}
	st = f.set().Status
	if st.CurrentRevision != rev2 || st.UpdateRevision != rev2 || st.CurrentReplicas != 3 || st.UpdatedReplicas != 3 {
		t.Errorf("finished status %+v", st)
	}
}

// TestOnDelete: a new template replaces nothing; a pod deleted by hand comes back at the
// update revision.
func TestOnDelete(t *testing.T) {
	set := newSet(2)
	set.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
	f := newFixture(t, set)
	f.settle()
	f.edit(func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.Containers[0].Image = "img:2" })
	if got := deletedPods(f.step()); len(got) != 0 {
		t.Fatalf("deleted %v under OnDelete", got)
	}
	f.check(f.Client.CoreV1().Pods("default").Delete(t.Context(), "web-1", metav1.DeleteOptions{}))
	f.settle()
	if img := f.pod("web-1").Spec.Containers[0].Image; img != "img:2" {
		t.Errorf("recreated web-1 runs %s, want img:2", img)
	}
	if img := f.pod("web-0").Spec.Containers[0].Image; img != "img:1" {
		t.Errorf("web-0 runs %s, want img:1", img)
	}
	st := f.set().Status
	if st.CurrentReplicas != 1 || st.UpdatedReplicas != 1 || st.CurrentRevision == st.UpdateRevision {
		t.Errorf("status %+v", st)
	}
}

// TestRevisionHistory: going back to an earlier template reuses its revision with the next
// number; revisions beyond revisionHistoryLimit that no pod uses are deleted, oldest first.
func TestRevisionHistory(t *testing.T) {
	set := newSet(1)
	set.Spec.RevisionHistoryLimit = ptr(int32(1))
	f := newFixture(t, set)
	f.settle()
	first := f.set().Status.CurrentRevision
	for _, img := range []string{"img:2", "img:3"} {
		f.edit(func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.Containers[0].Image = img })
		f.terminateOnDelete()
		f.step()
		f.finishTermination("web-0")
		f.settle()
	}
	revs := f.revisions()
	var names []string
	for _, r := range revs {
		names = append(names, r.Name)
	}
	if len(revs) != 2 || revs[0].Revision != 2 || revs[1].Revision != 3 {
		t.Fatalf("revisions %v (%d), want numbers 2 and 3 (1 truncated)", names, len(revs))
	}
	if slices.Contains(names, first) {
		t.Errorf("revision 1 (%s) kept beyond the limit", first)
	}
	second := revs[0].Name
	f.edit(func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.Containers[0].Image = "img:2" })
	f.terminateOnDelete()
	f.step()
	f.finishTermination("web-0")
	f.settle()
	revs = f.revisions()
	last := revs[len(revs)-1]
	if last.Name != second || last.Revision != 4 {
		t.Errorf("rollback made revision %s number %d, want %s renumbered 4", last.Name, last.Revision, second)
	}
	if st := f.set().Status; st.CurrentRevision != second || st.UpdateRevision != second {
		t.Errorf("status revisions %s %s, want %s", st.CurrentRevision, st.UpdateRevision, second)
	}
	for _, r := range revs {
		if ref := metav1.GetControllerOf(r); ref == nil || ref.UID != "uid-web" {
			t.Errorf("revision %s controller %+v", r.Name, ref)
		}
		if r.Labels["app"] != "web" || r.Labels[RevisionHashLabel] == "" {
			t.Errorf("revision %s labels %v", r.Name, r.Labels)
		}
	}
}

// TestMinReadySeconds: the next pod waits until the previous was ready for minReadySeconds;
// the sync asks to be run again then.
func TestMinReadySeconds(t *testing.T) {
	set := newSet(2)
	set.Spec.MinReadySeconds = 10
	f := newFixture(t, set)
	f.step()
	f.run("web-0", true)
	f.refresh()
	after, err := f.C.sync(t.Context(), "default/web")
	if err != nil {
		t.Fatal(err)
	}
	if after != 10*time.Second {
		t.Errorf("requeue after %v, want 10s", after)
	}
	if got := f.podNames(); !slices.Equal(got, []string{"web-0"}) {
		t.Fatalf("pods %v before web-0 is available", got)
	}
	if st := f.set().Status; st.ReadyReplicas != 1 || st.AvailableReplicas != 0 {
		t.Errorf("status %+v, want ready 1 available 0", st)
	}
	f.Clock.Step(11 * time.Second)
	if got := createdPods(f.step()); !slices.Equal(got, []string{"web-1"}) {
		t.Fatalf("created %v once web-0 is available, want web-1", got)
	}
	if st := f.set().Status; st.AvailableReplicas != 1 {
		t.Errorf("available %d, want 1", st.AvailableReplicas)
	}
}

// TestAdoptsOrphans: an orphaned member pod and revision the selector matches are adopted; a
// matching pod whose name is not a member's is left alone.
func TestAdoptsOrphans(t *testing.T) {
	orphan := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "default", UID: "uid-orphan",
		Labels: map[string]string{"app": "web"}}, Status: corev1.PodStatus{Phase: corev1.PodPending}}
	stranger := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "default", UID: "uid-other",
		Labels: map[string]string{"app": "web"}}, Status: corev1.PodStatus{Phase: corev1.PodPending}}
	f := newFixture(t, newSet(1), orphan, stranger)
	f.step()
	if ref := metav1.GetControllerOf(f.pod("web-0")); ref == nil || ref.UID != "uid-web" {
		t.Errorf("web-0 controller %+v, want adopted", ref)
	}
	if ref := metav1.GetControllerOf(f.pod("other")); ref != nil {
		t.Errorf("other adopted: %+v", ref)
	}
	// Once Running and Ready, the adopted pod gets its identity labels (Kubernetes'
	// UpdateStatefulPod), and, being at no revision, is replaced by the rolling update.
	f.run("web-0", true)
	acts := f.step()
	var updated *corev1.Pod
	for _, a := range acts {
		if a.GetVerb() == "update" && a.GetResource().Resource == "pods" {
			updated = a.(k8stesting.UpdateAction).GetObject().(*corev1.Pod)
		}
	}
	if updated == nil || updated.Labels[appsv1.StatefulSetPodNameLabel] != "web-0" || updated.Labels[appsv1.PodIndexLabel] != "0" {
		t.Errorf("adopted web-0 not given its identity labels: %+v", updated)
	}
	if got := deletedPods(acts); !slices.Equal(got, []string{"web-0"}) {
		t.Errorf("deleted %v, want the adopted web-0 (no revision) for the update", got)
	}
	f.settle()
	if p := f.pod("web-0"); p.UID == "uid-orphan" || podRevision(p) != f.set().Status.UpdateRevision {
		t.Errorf("web-0 uid %s revision %s, want a new pod at the update revision", p.UID, podRevision(p))
	}
}

// TestRetentionWhenScaledDelete: with whenScaled Delete, a scaled-away pod's claim gets the
// pod as controller before the pod is deleted (the garbage collector then removes it), and the
// claims of the pods kept have no owner.
func TestRetentionWhenScaledDelete(t *testing.T) {
	set := newSet(2)
	set.Spec.PersistentVolumeClaimRetentionPolicy.WhenScaled = del
	f := newFixture(t, set)
	f.settle()
	f.edit(func(s *appsv1.StatefulSet) { s.Spec.Replicas = ptr(int32(1)) })
	f.step()
	f.step()
	claim, err := f.Client.CoreV1().PersistentVolumeClaims("default").Get(t.Context(), "data-web-1", metav1.GetOptions{})
	f.check(err)
	if ref := metav1.GetControllerOf(claim); ref == nil || ref.Kind != "Pod" || ref.Name != "web-1" {
		t.Errorf("data-web-1 controller %+v, want pod web-1", ref)
	}
	claim, err = f.Client.CoreV1().PersistentVolumeClaims("default").Get(t.Context(), "data-web-0", metav1.GetOptions{})
	f.check(err)
	if len(claim.OwnerReferences) != 0 {
		t.Errorf("data-web-0 owners %+v, want none", claim.OwnerReferences)
	}
}

// TestRetentionWhenDeletedDelete: with whenDeleted Delete every claim is controlled by the set.
func TestRetentionWhenDeletedDelete(t *testing.T) {
	set := newSet(2)
	set.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted = del
	f := newFixture(t, set)
	f.settle()
	for _, name := range []string{"data-web-0", "data-web-1"} {
		claim, err := f.Client.CoreV1().PersistentVolumeClaims("default").Get(t.Context(), name, metav1.GetOptions{})
		f.check(err)
		if ref := metav1.GetControllerOf(claim); ref == nil || ref.Kind != "StatefulSet" || ref.UID != "uid-web" {
			t.Errorf("%s controller %+v, want the set", name, ref)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// terminateOnDelete makes pod deletions graceful: a deleted pod stays with a deletion
// timestamp until finishTermination.
func (f *fixture) terminateOnDelete() {
	f.Client.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		name := a.(k8stesting.DeleteAction).GetName()
		p, err := f.Client.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), "default", name)
		if err != nil {
			return true, nil, err
		}
		pod := p.(*corev1.Pod)
		if pod.DeletionTimestamp != nil {
			return true, nil, nil
		}
		now := metav1.NewTime(f.Clock.Now())
		pod.DeletionTimestamp = &now
		return true, nil, f.Client.Tracker().Update(corev1.SchemeGroupVersion.WithResource("pods"), pod, "default")
	})
}

// finishTermination removes a terminating pod, as the node agent does.
func (f *fixture) finishTermination(name string) {
	f.T.Helper()
	if p := f.pod(name); p.DeletionTimestamp == nil {
		f.T.Fatalf("pod %s is not terminating", name)
	}
	f.check(f.Client.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("pods"), "default", name))
}

// TestRevisionNameCollision: when the hashed name is taken by another revision's data, the
// collision count goes up, names the revision anew and is kept in the status.
func TestRevisionNameCollision(t *testing.T) {
	set := newSet(1)
	want, err := newRevision(set, 1, ptr(int32(0)))
	if err != nil {
		t.Fatal(err)
	}
	squatter := &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: want.Name, Namespace: "default",
		Labels: map[string]string{"app": "other"}}, Data: runtime.RawExtension{Raw: []byte(`{"other":true}`)}, Revision: 1}
	f := newFixture(t, set, squatter)
	f.step()
	st := f.set().Status
	if st.CollisionCount == nil || *st.CollisionCount != 1 {
		t.Fatalf("collisionCount %v, want 1", st.CollisionCount)
	}
	if st.UpdateRevision == want.Name || !strings.HasPrefix(st.UpdateRevision, "web-") {
		t.Errorf("update revision %s, want another name than the squatter's %s", st.UpdateRevision, want.Name)
	}
	f.settle()
	if st := f.set().Status; *st.CollisionCount != 1 || len(f.revisions()) != 2 {
		t.Errorf("after settling: collisionCount %d, %d revisions (want 1 and the squatter plus ours)", *st.CollisionCount, len(f.revisions()))
	}
}
