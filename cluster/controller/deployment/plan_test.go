package deployment

import (
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"testing"

	"github.com/davecgh/go-spew/spew"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/rand"
)

func TestResolveFenceposts(t *testing.T) {
	for _, tc := range []struct {
		surge, unavailable *intstr.IntOrString
		desired            int32
		wantS, wantU       int32
	}{
		{pct("25%"), pct("25%"), 4, 1, 1},
		{pct("25%"), pct("25%"), 10, 3, 2}, // surge 2.5 rounds up, unavailable 2.5 down
		{pct("25%"), pct("25%"), 1, 1, 0},
		{num(1), num(0), 4, 1, 0},
		{num(0), num(1), 4, 0, 1},
		{pct("0%"), pct("1%"), 10, 0, 1},  // both resolve to 0: unavailable becomes 1
		{pct("1%"), pct("0%"), 10, 1, 0},  // 0.1 surge rounds up to 1
		{pct("30%"), pct("30%"), 3, 1, 0}, // 0.9: up to 1, down to 0
		{nil, nil, 5, 0, 1},
		{num(5), num(7), 2, 5, 7}, // numbers are taken as given
	} {
		s, u, err := resolveFenceposts(tc.surge, tc.unavailable, tc.desired)
		if err != nil || s != tc.wantS || u != tc.wantU {
			t.Errorf("resolveFenceposts(%v, %v, %d) = %d, %d, %v; want %d, %d", tc.surge, tc.unavailable, tc.desired, s, u, err, tc.wantS, tc.wantU)
		}
	}
	if _, _, err := resolveFenceposts(pct("abc"), nil, 3); err == nil {
		t.Error("an invalid percentage resolved without error")
	}
}

func TestMaxSurgeAndUnavailableOfDeployment(t *testing.T) {
	d := newDeployment("web", 2, num(5), num(7))
	if s, u := maxSurge(d), maxUnavailable(d); s != 5 || u != 2 {
		t.Errorf("surge, unavailable = %d, %d; want 5 and 2 (capped at replicas)", s, u)
	}
	if m := minAvailable(d); m != 0 {
		t.Errorf("minAvailable = %d, want 0", m)
	}
	d.Spec.Replicas = i32(0)
	if u := maxUnavailable(d); u != 0 {
		t.Errorf("0 replicas: maxUnavailable = %d, want 0", u)
	}
	r := newDeployment("web", 4, pct("25%"), pct("25%"))
	r.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	if s, u, m := maxSurge(r), maxUnavailable(r), minAvailable(r); s != 0 || u != 0 || m != 0 {
		t.Errorf("Recreate: surge, unavailable, minAvailable = %d, %d, %d; want 0s", s, u, m)
	}
}

// TestComputeHash: the hash is Kubernetes' (FNV-32a over the spew dump Kubernetes 1.x's
// DeepHashObject wrote, collision count appended little-endian, safe-encoded), stable, and
// changes with the template and the collision count.
func TestComputeHash(t *testing.T) {
	d := newDeployment("web", 1, nil, nil)
	tmpl := &d.Spec.Template
	// The reference: Kubernetes' hashutil.DeepHashObject before it moved to dump.ForHash.
	h := fnv.New32a()
	printer := spew.ConfigState{Indent: " ", SortKeys: true, DisableMethods: true, SpewKeys: true}
	printer.Fprintf(h, "%#v", *tmpl)
	want := rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
	if got := computeHash(tmpl, nil); got != want {
		t.Errorf("computeHash = %q, want %q", got, want)
	}
	if computeHash(tmpl, nil) != computeHash(tmpl.DeepCopy(), nil) {
		t.Error("hash of an equal template differs")
	}
	other := tmpl.DeepCopy()
	other.Spec.Containers[0].Image = "img:2"
	if computeHash(other, nil) == want {
		t.Error("hash did not change with the image")
	}
	one := int32(1)
	if computeHash(tmpl, &one) == want {
		t.Error("hash did not change with the collision count")
	}
	for _, r := range computeHash(tmpl, &one) {
		if !strings.ContainsRune("bcdfghjklmnpqrstvwxz2456789", r) {
			t.Errorf("hash has %q, outside the safe alphabet", r)
		}
	}
}

func TestNewReplicaSetForNamesAndSelects(t *testing.T) {
	d := newDeployment("web", 3, pct("25%"), pct("25%"))
	rs, err := newReplicaSetFor(d, nil, "1")
	if err != nil {
		t.Fatal(err)
	}
	hash := computeHash(&d.Spec.Template, nil)
	if rs.Name != "web-"+hash || rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash ||
		rs.Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] != hash ||
		rs.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash || rs.Spec.Selector.MatchLabels["app"] != "web" {
		t.Errorf("replica set %s labels %v selector %v", rs.Name, rs.Labels, rs.Spec.Selector)
	}
	if _, ok := d.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey]; ok {
		t.Error("the Deployment's template got the hash label")
	}
	if *rs.Spec.Replicas != 3 || rs.Annotations[RevisionAnnotation] != "1" || rs.Annotations[DesiredReplicasAnnotation] != "3" ||
		rs.Annotations[MaxReplicasAnnotation] != "4" {
		t.Errorf("replicas %d annotations %v; want 3, revision 1, desired 3, max 4", *rs.Spec.Replicas, rs.Annotations)
	}
	if ref := rs.OwnerReferences; len(ref) != 1 || !*ref[0].Controller || ref[0].Kind != "Deployment" || ref[0].UID != d.UID {
		t.Errorf("owner references %+v", ref)
	}
}

func TestSetNewReplicaSetAnnotations(t *testing.T) {
	d := newDeployment("web", 3, pct("25%"), pct("25%"))
	d.Annotations = map[string]string{"team": "ci", RevisionAnnotation: "9", corev1.LastAppliedConfigAnnotation: "{}"}
	rs := &appsv1.ReplicaSet{}
	if !setNewReplicaSetAnnotations(d, rs, "4", true, maxRevHistoryLengthInChars) {
		t.Fatal("no change reported")
	}
	if rs.Annotations["team"] != "ci" || rs.Annotations[RevisionAnnotation] != "4" || rs.Annotations[corev1.LastAppliedConfigAnnotation] != "" ||
		rs.Annotations[RevisionHistoryAnnotation] != "" || rs.Annotations[DesiredReplicasAnnotation] != "" {
		t.Errorf("annotations %v", rs.Annotations)
	}
	// A rollback to this template: a new revision, the old one in the history.
	setNewReplicaSetAnnotations(d, rs, "6", true, maxRevHistoryLengthInChars)
	setNewReplicaSetAnnotations(d, rs, "8", true, maxRevHistoryLengthInChars)
	if rs.Annotations[RevisionAnnotation] != "8" || rs.Annotations[RevisionHistoryAnnotation] != "4,6" {
		t.Errorf("after two rollbacks: revision %q history %q; want 8 and 4,6", rs.Annotations[RevisionAnnotation], rs.Annotations[RevisionHistoryAnnotation])
	}
	// A lower revision never replaces a higher one (numbers, not strings: 10 > 9).
	rs.Annotations[RevisionAnnotation] = "10"
	if setNewReplicaSetAnnotations(d, rs, "9", true, maxRevHistoryLengthInChars) || rs.Annotations[RevisionAnnotation] != "10" {
		t.Errorf("revision 10 lowered to %q", rs.Annotations[RevisionAnnotation])
	}
	// The history keeps within its length limit, dropping the oldest entries.
	rs.Annotations[RevisionHistoryAnnotation] = "1,2,3"
	setNewReplicaSetAnnotations(d, rs, "11", true, 6)
	if h := rs.Annotations[RevisionHistoryAnnotation]; h != "2,3,10" {
		t.Errorf("bounded history = %q, want 2,3,10 (6 characters)", h)
	}
}

func TestNewRSNewReplicas(t *testing.T) {
	d := newDeployment("web", 10, pct("25%"), pct("25%")) // surge 3
	old := rsOf(newDeployment("web", 10, pct("25%"), pct("25%")), "1", 10, 0)
	old.Spec.Template.Spec.Containers[0].Image = "img:0"
	d.Spec.Template.Spec.Containers[0].Image = "img:1"
	newRS := rsOf(d, "2", 0, 1)
	for _, tc := range []struct{ old, cur, want int32 }{{10, 0, 3}, {10, 3, 3}, {8, 3, 5}, {0, 5, 10}, {2, 9, 10}} {
		old.Spec.Replicas, newRS.Spec.Replicas = i32(tc.old), i32(tc.cur)
		got, err := newRSNewReplicas(d, []*appsv1.ReplicaSet{old, newRS}, newRS)
		if err != nil || got != tc.want {
			t.Errorf("old %d new %d: new replicas = %d, %v; want %d", tc.old, tc.cur, got, err, tc.want)
		}
	}
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	if got, _ := newRSNewReplicas(d, []*appsv1.ReplicaSet{old, newRS}, newRS); got != 10 {
		t.Errorf("Recreate: %d, want 10", got)
	}
}

// rollingPair is an old ReplicaSet of size old (oldAvail available) and a new one of size cur
// (curAvail available) of d.
func rollingPair(d *appsv1.Deployment, old, oldAvail, cur, curAvail int32) (*appsv1.ReplicaSet, *appsv1.ReplicaSet) {
	o := rsOf(d, "1", old, 0)
	o.Name, o.UID = "web-old", "uid-old"
	o.Status.AvailableReplicas = oldAvail
	n := rsOf(d, "2", cur, 1)
	n.Status.AvailableReplicas = curAvail
	return o, n
}

func TestPlanOldScaleDown(t *testing.T) {
	for _, tc := range []struct {
		name                         string
		surge, unavailable           *intstr.IntOrString
		old, oldAvail, cur, curAvail int32
		want                         int32 // the old ReplicaSet's new size; -1: unchanged
	}{
		{"surge pod not available yet: wait", num(1), num(0), 4, 4, 1, 0, -1},
		{"surge pod available: one old goes", num(1), num(0), 4, 4, 1, 1, 3},
		{"two new available", num(1), num(0), 3, 3, 2, 2, 2},
		{"unhealthy old pods go first, within the budget", num(0), num(1), 4, 2, 0, 0, 3},
		{"maxUnavailable 2 takes two available", num(0), num(2), 4, 4, 0, 0, 2},
		{"new unavailable pods count against the budget", pct("25%"), pct("25%"), 4, 4, 1, 0, 3},
		{"nothing old left", num(1), num(0), 0, 0, 4, 4, -1},
	} {
		d := newDeployment("web", 4, tc.surge, tc.unavailable)
		o, n := rollingPair(d, tc.old, tc.oldAvail, tc.cur, tc.curAvail)
		plan := planOldScaleDown(d, activeReplicaSets([]*appsv1.ReplicaSet{o}), n)
		got := int32(-1)
		if len(plan) == 1 && plan[0].rs == o {
			got = plan[0].replicas
		} else if len(plan) > 1 {
			t.Errorf("%s: plan %v", tc.name, plan)
		}
		if got != tc.want {
			t.Errorf("%s: old scaled to %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestPlanProportionalScale: a Deployment of 10 (surge 3) mid-rollout with 8 old and 5 new
// pods, scaled to 20 then to 5, spreads the change by the ReplicaSets' shares of
// max-replicas (13): Kubernetes' TestScale "proportional scaling" cases.
// TestPlanOldScaleDownStaleStatus: the old ReplicaSet was just scaled 3 → 2 and its status,
// written by the sync that deleted the third pod, still counts 3 available (observed
// generation current): only 1 more may go, not 2 (the integration test saw 3 Ready pods of 4
// with maxUnavailable 0 when the status was taken as it was).
func TestPlanOldScaleDownStaleStatus(t *testing.T) {
	d := newDeployment("web", 4, num(1), num(0))
	o, n := rollingPair(d, 2, 3, 3, 3)
	o.Status.Replicas = 3
	plan := planOldScaleDown(d, []*appsv1.ReplicaSet{o}, n)
	if len(plan) != 1 || plan[0].replicas != 1 {
		t.Errorf("plan %+v; want the old replica set at 1 (2 + 3 available within replicas, 1 above 4)", plan)
	}
}

func TestPlanProportionalScale(t *testing.T) {
	d := newDeployment("web", 10, pct("25%"), pct("25%"))
	o, n := rollingPair(d, 8, 8, 5, 5)
	for _, tc := range []struct {
		replicas       int32
		wantOld, wantN int32
		op             string
	}{{20, 15, 10, "up"}, {5, 4, 3, "down"}, {10, 8, 5, ""}, {0, 0, 0, "down"}} {
		d.Spec.Replicas = i32(tc.replicas)
		plan, op := planProportionalScale(d, n, []*appsv1.ReplicaSet{o})
		got := map[string]int32{}
		for _, s := range plan {
			got[s.rs.Name] = s.replicas
		}
		if got[o.Name] != tc.wantOld || got[n.Name] != tc.wantN || op != tc.op {
			t.Errorf("to %d: old %d new %d (%q); want %d, %d (%q)", tc.replicas, got[o.Name], got[n.Name], op, tc.wantOld, tc.wantN, tc.op)
		}
	}
	// The leftover of rounding goes to the largest ReplicaSet.
	d.Spec.Replicas = i32(11) // surge 3: allowed 14, one to add
	o.Spec.Replicas, n.Spec.Replicas = i32(7), i32(6)
	plan, _ := planProportionalScale(d, n, []*appsv1.ReplicaSet{o})
	if plan[0].rs != o || plan[0].replicas != 8 || plan[1].replicas != 6 {
		t.Errorf("plan %+v; want the larger (old) ReplicaSet to take the one replica", plan)
	}
}

func TestScalingEventAndSaturation(t *testing.T) {
	d := newDeployment("web", 4, num(1), num(0))
	rs := rsOf(d, "1", 4, 0)
	if isScalingEvent(d, []*appsv1.ReplicaSet{rs}) || !isSaturated(d, rs) {
		t.Error("a settled Deployment looks like a scaling event, or its ReplicaSet not saturated")
	}
	d.Spec.Replicas = i32(6)
	if !isScalingEvent(d, []*appsv1.ReplicaSet{rs, nil}) || isSaturated(d, rs) {
		t.Error("replicas 4 → 6 is not a scaling event, or the ReplicaSet still saturated")
	}
	if got := findActiveOrLatest(rs, nil); got != rs {
		t.Errorf("findActiveOrLatest = %v", got)
	}
}

func TestCleanupVictims(t *testing.T) {
	d := newDeployment("web", 1, num(1), num(0))
	d.Spec.RevisionHistoryLimit = i32(2)
	var olds []*appsv1.ReplicaSet
	for i := 1; i <= 5; i++ {
		rs := rsOf(d, fmt.Sprint(i), 0, i)
		rs.Name, rs.UID = fmt.Sprintf("web-%d", i), "uid"
		olds = append(olds, rs)
	}
	olds[1].Spec.Replicas = i32(1) // revision 2 still scaled: kept
	olds[0].Generation, olds[0].Status.ObservedGeneration = 2, 1
	olds[3], olds[0] = olds[0], olds[3] // order does not matter
	var got []string
	for _, rs := range cleanupVictims(d, olds) {
		got = append(got, rs.Name)
	}
	if strings.Join(got, ",") != "web-3" {
		t.Errorf("victims %v; want web-3 (1 unobserved, 2 scaled; 4 and 5 within the limit)", got)
	}
	d.Spec.RevisionHistoryLimit = i32(math.MaxInt32)
	if v := cleanupVictims(d, olds); v != nil {
		t.Errorf("MaxInt32 keeps everything; victims %v", v)
	}
}
