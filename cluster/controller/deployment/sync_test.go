package deployment

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"
)

func TestSyncCreatesTheFirstReplicaSet(t *testing.T) {
	d := newDeployment("web", 3, pct("25%"), pct("25%"))
	f := newFixture(t, d)
	actions := f.sync("default/web")
	rss := createdRSs(actions)
	if len(rss) != 1 {
		t.Fatalf("created %d replica sets; actions %v", len(rss), actions)
	}
	rs := rss[0]
	if rs.Name != "web-"+computeHash(&d.Spec.Template, nil) || *rs.Spec.Replicas != 3 || rs.Annotations[RevisionAnnotation] != "1" {
		t.Errorf("replica set %s replicas %d annotations %v", rs.Name, *rs.Spec.Replicas, rs.Annotations)
	}
	st := lastStatus(actions)
	if st == nil || st.Annotations[RevisionAnnotation] != "1" {
		t.Fatalf("deployment status update %+v", st)
	}
	if c := getCondition(st.Status, appsv1.DeploymentProgressing); c == nil || c.Reason != NewReplicaSetReason ||
		c.Message != `Created new replica set "`+rs.Name+`"` {
		t.Errorf("Progressing = %+v", c)
	}
	if ev := f.Events(); len(ev) != 1 || ev[0] != "Normal ScalingReplicaSet Scaled up replica set "+rs.Name+" from 0 to 3" {
		t.Errorf("events %v", ev)
	}
}

// TestSyncRollingSteps: with maxSurge 1 and maxUnavailable 0 a new template first adds one
// new pod, and an old one goes only once the new one is available.
func TestSyncRollingSteps(t *testing.T) {
	d := newDeployment("web", 4, num(1), num(0))
	old := rsOf(d, "1", 4, 0)
	d.Spec.Template.Spec.Containers[0].Image = "img:2"
	d.Generation = 2
	f := newFixture(t, d, old)
	actions := f.sync("default/web")
	rss := createdRSs(actions)
	if len(rss) != 1 || *rss[0].Spec.Replicas != 1 || rss[0].Annotations[RevisionAnnotation] != "2" {
		t.Fatalf("created %+v; want the new replica set with 1 replica at revision 2", rss)
	}
	if u := updatedRSs(actions); len(u) != 0 {
		t.Errorf("the old replica set was touched before the new pod is available: %v", u)
	}
	newRS := rss[0].DeepCopy()
	newRS.UID = "uid-new"
	newRS.CreationTimestamp = metav1.NewTime(t0.Add(60e9))
	f.Put(newRS)
	st := lastStatus(actions)
	f.Put(st)

	// Not yet available: nothing to do.
	if u := updatedRSs(f.sync("default/web")); len(u) != 0 {
		t.Errorf("scaled %v while the surge pod is unavailable", u)
	}
	// Available: one old pod goes.
	newRS.Status = appsv1.ReplicaSetStatus{Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
	f.Put(newRS)
	u := updatedRSs(f.sync("default/web"))
	if len(u) != 1 || u[0].Name != old.Name || *u[0].Spec.Replicas != 3 {
		t.Fatalf("updates %v; want %s scaled to 3", u, old.Name)
	}
	if ev := f.Events(); len(ev) == 0 || ev[len(ev)-1] != "Normal ScalingReplicaSet Scaled down replica set "+old.Name+" from 4 to 3" {
		t.Errorf("events %v", ev)
	}
}

func TestSyncAdoptsOrphanReplicaSet(t *testing.T) {
	d := newDeployment("web", 2, num(1), num(0))
	rs := rsOf(d, "1", 2, 0)
	rs.OwnerReferences = nil
	f := newFixture(t, d, rs)
	actions := f.sync("default/web")
	var patched bool
	for _, a := range actions {
		if a.GetVerb() == "patch" && a.GetResource().Resource == "replicasets" {
			p := string(a.(k8stesting.PatchAction).GetPatch())
			patched = strings.Contains(p, `"kind":"Deployment"`) && strings.Contains(p, string(d.UID))
		}
	}
	if !patched {
		t.Errorf("no adoption patch; actions %v", actions)
	}
	if rss := createdRSs(actions); len(rss) != 0 {
		t.Errorf("created %d replica sets besides adopting", len(rss))
	}
}

// TestSyncHashCollision: a ReplicaSet of another template already has the name: the
// collision count goes up and the sync fails, so that the next one uses a new hash.
func TestSyncHashCollision(t *testing.T) {
	d := newDeployment("web", 1, num(1), num(0))
	squatter := rsOf(d, "1", 1, 0)
	squatter.Spec.Template.Spec.Containers[0].Image = "other"
	squatter.OwnerReferences = nil
	squatter.Labels = map[string]string{"app": "other"}
	f := newFixture(t, d, squatter)
	f.Client.ClearActions()
	if _, err := f.C.sync(t.Context(), "default/web"); err == nil {
		t.Fatal("sync succeeded despite the collision")
	}
	st := lastStatus(f.Client.Actions())
	if st == nil || st.Status.CollisionCount == nil || *st.Status.CollisionCount != 1 {
		t.Fatalf("status after the collision: %+v", st)
	}
	f.Put(st)
	rss := createdRSs(f.sync("default/web"))
	if len(rss) != 1 || rss[0].Name == squatter.Name || rss[0].Name != "web-"+computeHash(&d.Spec.Template, st.Status.CollisionCount) {
		t.Errorf("after the bump created %v", rss)
	}
}

// TestSyncRecreateWaitsForOldPods: Recreate scales the old ReplicaSet to 0 and creates the
// new one only once no old pod runs.
func TestSyncRecreateWaitsForOldPods(t *testing.T) {
	d := newDeployment("web", 2, nil, nil)
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	old := rsOf(d, "1", 2, 0)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-old-1", Namespace: "default", Labels: old.Spec.Template.Labels,
		OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(old, rsKind)}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	d.Spec.Template.Spec.Containers[0].Image = "img:2"
	f := newFixture(t, d, old, pod)
	actions := f.sync("default/web")
	if u := updatedRSs(actions); len(u) != 1 || *u[0].Spec.Replicas != 0 {
		t.Fatalf("updates %v; want the old replica set scaled to 0", u)
	}
	if len(createdRSs(actions)) != 0 {
		t.Fatal("created the new replica set before the old pods went")
	}
	scaled := old.DeepCopy()
	scaled.Spec.Replicas, scaled.Status = i32(0), appsv1.ReplicaSetStatus{}
	f.Put(scaled)
	if rss := createdRSs(f.sync("default/web")); len(rss) != 0 {
		t.Fatal("created the new replica set while an old pod runs")
	}
	if err := f.Informers.Core().V1().Pods().Informer().GetIndexer().Delete(pod); err != nil {
		t.Fatal(err)
	}
	rss := createdRSs(f.sync("default/web"))
	if len(rss) != 1 || *rss[0].Spec.Replicas != 2 {
		t.Fatalf("created %v; want the new replica set at 2", rss)
	}
}

// TestSyncPausedScalesWithoutRolling: a paused Deployment with a new template gets no new
// ReplicaSet, but its replicas change reaches the current one, and the pause is recorded.
func TestSyncPausedScalesWithoutRolling(t *testing.T) {
	d := newDeployment("web", 2, num(1), num(0))
	rs := rsOf(d, "1", 2, 0)
	d.Spec.Template.Spec.Containers[0].Image = "img:2"
	d.Spec.Paused = true
	d.Spec.Replicas = i32(5)
	f := newFixture(t, d, rs)
	actions := f.sync("default/web")
	if len(createdRSs(actions)) != 0 {
		t.Error("a paused Deployment rolled out")
	}
	if u := updatedRSs(actions); len(u) != 1 || *u[0].Spec.Replicas != 5 || u[0].Annotations[DesiredReplicasAnnotation] != "5" {
		t.Errorf("updates %v; want the replica set at 5", u)
	}
	var reasons []string
	for _, a := range actions {
		if a.GetVerb() == "update" && a.GetSubresource() == "status" {
			dd := a.(k8stesting.UpdateAction).GetObject().(*appsv1.Deployment)
			if c := getCondition(dd.Status, appsv1.DeploymentProgressing); c != nil {
				reasons = append(reasons, c.Reason)
			}
		}
	}
	if len(reasons) == 0 || reasons[0] != PausedDeployReason {
		t.Errorf("Progressing reasons written %v; want DeploymentPaused first", reasons)
	}
}

func TestSyncCleansUpOldRevisions(t *testing.T) {
	d := newDeployment("web", 1, num(1), num(0))
	d.Spec.RevisionHistoryLimit = i32(1)
	objs := []runtime.Object{d}
	for i, img := range []string{"a", "b", "c"} {
		d2 := d.DeepCopy()
		d2.Spec.Template.Spec.Containers[0].Image = img
		rs := rsOf(d2, string(rune('1'+i)), 0, i)
		rs.UID = types.UID("uid-" + img)
		objs = append(objs, rs)
	}
	cur := rsOf(d, "4", 1, 10)
	objs = append(objs, cur)
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1, ReadyReplicas: 1}
	f := newFixture(t, objs...)
	actions := f.sync("default/web")
	var deleted []string
	for _, a := range actions {
		if a.GetVerb() == "delete" && a.GetResource().Resource == "replicasets" {
			deleted = append(deleted, a.(k8stesting.DeleteAction).GetName())
		}
	}
	if len(deleted) != 2 {
		t.Errorf("deleted %v; want the two oldest revisions", deleted)
	}
}
