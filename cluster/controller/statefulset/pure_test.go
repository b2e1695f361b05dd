package statefulset

import (
	"encoding/json"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestParentAndOrdinal(t *testing.T) {
	for _, tt := range []struct {
		name   string
		parent string
		ord    int
	}{
		{"web-0", "web", 0}, {"my-web-12", "my-web", 12}, {"web", "", -1}, {"web-", "", -1},
		{"web-99999999999", "web", -1},
	} {
		p, o := parentAndOrdinal(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: tt.name}})
		if p != tt.parent || o != tt.ord {
			t.Errorf("%s: %q %d, want %q %d", tt.name, p, o, tt.parent, tt.ord)
		}
	}
}

// TestStartOrdinal: spec.ordinals.start shifts names and the range.
func TestStartOrdinal(t *testing.T) {
	set := newSet(2)
	set.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 5}
	pods := []*corev1.Pod{newPod(set, 4), newPod(set, 5), newPod(set, 6), newPod(set, 7)}
	replicas, condemned := ordinals(set, pods[1:])
	if replicas[0].Name != "web-5" || replicas[1].Name != "web-6" || len(condemned) != 1 || condemned[0].Name != "web-7" {
		t.Errorf("replicas %v condemned %v", replicas, condemned)
	}
	if podInOrdinalRange(pods[0], set) {
		t.Error("web-4 in range")
	}
	if pods[1].Labels[appsv1.PodIndexLabel] != "5" || pods[1].Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "data-web-5" {
		t.Errorf("web-5 labels %v volumes %+v", pods[1].Labels, pods[1].Spec.Volumes)
	}
}

// TestRevisionData: a revision stores the template as a replacing strategic merge patch; the
// name hashes the data and the collision count; applying it restores the template.
func TestRevisionData(t *testing.T) {
	set := newSet(1)
	set.Annotations = map[string]string{"kubernetes.io/change-cause": "v1"}
	r1, err := newRevision(set, 1, ptr(int32(0)))
	if err != nil {
		t.Fatal(err)
	}
	var patch map[string]map[string]map[string]interface{}
	if err := json.Unmarshal(r1.Data.Raw, &patch); err != nil {
		t.Fatal(err)
	}
	if patch["spec"]["template"]["$patch"] != "replace" || len(patch["spec"]) != 1 {
		t.Errorf("patch %s", r1.Data.Raw)
	}
	if r1.Name != "web-"+r1.Labels[RevisionHashLabel] || r1.Annotations["kubernetes.io/change-cause"] != "v1" || r1.Revision != 1 {
		t.Errorf("revision %s labels %v annotations %v", r1.Name, r1.Labels, r1.Annotations)
	}
	again, _ := newRevision(set, 1, ptr(int32(0)))
	collided, _ := newRevision(set, 1, ptr(int32(1)))
	if again.Name != r1.Name || collided.Name == r1.Name {
		t.Errorf("names %s %s %s: want the same data to hash alike and a collision count to change it", r1.Name, again.Name, collided.Name)
	}
	if !equalRevision(r1, again) {
		t.Error("equal revisions differ")
	}
	changed := set.DeepCopy()
	changed.Spec.Template.Spec.Containers[0].Image = "img:2"
	changed.Spec.Template.Labels["extra"] = "x"
	r2, _ := newRevision(changed, 2, ptr(int32(0)))
	if equalRevision(r1, r2) {
		t.Error("revisions of different templates are equal")
	}
	back, err := applyRevision(changed, r1)
	if err != nil {
		t.Fatal(err)
	}
	if back.Spec.Template.Spec.Containers[0].Image != "img:1" || back.Spec.Template.Labels["extra"] != "" {
		t.Errorf("applied revision 1: image %s labels %v", back.Spec.Template.Spec.Containers[0].Image, back.Spec.Template.Labels)
	}
	if *back.Spec.Replicas != 1 || back.Name != "web" {
		t.Errorf("applying a revision changed more than the template: %+v", back.ObjectMeta)
	}
}

// TestClaimOwners: the owners each retention policy asks for, and that update makes them so.
func TestClaimOwners(t *testing.T) {
	setRef := func(s *appsv1.StatefulSet) metav1.OwnerReference { return *metav1.NewControllerRef(s, controllerKind) }
	for _, tt := range []struct {
		deleted, scaled  appsv1.PersistentVolumeClaimRetentionPolicyType
		inRange          bool
		wantSet, wantPod bool
	}{
		{retain, retain, true, false, false},
		{retain, retain, false, false, false},
		{del, retain, true, true, false},
		{del, retain, false, true, false},
		{retain, del, true, false, false},
		{retain, del, false, false, true},
		{del, del, true, true, false},
		{del, del, false, false, true},
	} {
		set := newSet(2)
		set.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted = tt.deleted
		set.Spec.PersistentVolumeClaimRetentionPolicy.WhenScaled = tt.scaled
		ord := 1
		if !tt.inRange {
			ord = 3
		}
		pod := newPod(set, ord)
		pod.UID = "uid-pod"
		claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data-web-1"}}
		updateClaimOwners(claim, set, pod)
		if got := hasOwnerRef(claim, set, controllerKind); got != tt.wantSet {
			t.Errorf("%s/%s in range %v: set owner %v, want %v", tt.deleted, tt.scaled, tt.inRange, got, tt.wantSet)
		}
		if got := hasOwnerRef(claim, pod, podKind); got != tt.wantPod {
			t.Errorf("%s/%s in range %v: pod owner %v, want %v", tt.deleted, tt.scaled, tt.inRange, got, tt.wantPod)
		}
		if !claimOwnerUpToDate(claim, set, pod) {
			t.Errorf("%s/%s in range %v: not up to date after update", tt.deleted, tt.scaled, tt.inRange)
		}
		// A claim with the wrong owners is not up to date (or the policy wants none).
		wrong := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data-web-1",
			OwnerReferences: []metav1.OwnerReference{setRef(set), *metav1.NewControllerRef(pod, podKind)}}}
		if claimOwnerUpToDate(wrong, set, pod) {
			t.Errorf("%s/%s in range %v: owners set and pod counted up to date", tt.deleted, tt.scaled, tt.inRange)
		}
	}
	// A reference to a former pod of the same name leaves the claim alone.
	set := newSet(2)
	pod := newPod(set, 1)
	pod.UID = "uid-new"
	stale := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{{
		APIVersion: "v1", Kind: "Pod", Name: "web-1", UID: "uid-old", Controller: ptr(true)}}}}
	if !claimOwnerUpToDate(stale, set, pod) || !hasStaleOwnerRef(stale, pod, podKind) {
		t.Error("a claim of the former web-1 is to be left alone and counted stale")
	}
}

// TestNewVersionedPod: below the partition a missing pod is made at the current revision.
func TestNewVersionedPod(t *testing.T) {
	cur, upd := newSet(3), newSet(3)
	upd.Spec.Template.Spec.Containers[0].Image = "img:2"
	cur.Spec.UpdateStrategy.RollingUpdate.Partition = ptr(int32(2))
	if p := newVersionedPod(cur, upd, "r1", "r2", 1); podRevision(p) != "r1" || p.Spec.Containers[0].Image != "img:1" {
		t.Errorf("web-1: %s %s", podRevision(p), p.Spec.Containers[0].Image)
	}
	if p := newVersionedPod(cur, upd, "r1", "r2", 2); podRevision(p) != "r2" || p.Spec.Containers[0].Image != "img:2" {
		t.Errorf("web-2: %s %s", podRevision(p), p.Spec.Containers[0].Image)
	}
	if p := newVersionedPod(cur, upd, "r1", "r2", 0); p.GenerateName != "web-" || p.Name != "web-0" {
		t.Errorf("name %q generateName %q", p.Name, p.GenerateName)
	}
}
