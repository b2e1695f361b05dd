package statefulset

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// RevisionHashLabel is the label of a ControllerRevision holding its hash (Kubernetes'
// history.ControllerRevisionHashLabel).
const RevisionHashLabel = "controller.kubernetes.io/hash"

// revisionPatch is what a revision stores: a strategic merge patch that replaces the set's pod
// template with set's — Kubernetes' getPatch, so `kubectl rollout undo` can apply it.
func revisionPatch(set *appsv1.StatefulSet) ([]byte, error) {
	data, err := json.Marshal(set)
	if err != nil {
		return nil, err
	}
	var raw map[string]interface{}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	spec, _ := raw["spec"].(map[string]interface{})
	template, _ := spec["template"].(map[string]interface{})
	if template == nil {
		template = map[string]interface{}{}
	}
	template["$patch"] = "replace"
	return json.Marshal(map[string]interface{}{"spec": map[string]interface{}{"template": template}})
}

// hashRevision is the FNV-32 hash of the revision's data and the collision count, safely
// encoded (Kubernetes' HashControllerRevision).
func hashRevision(cr *appsv1.ControllerRevision, collisionCount *int32) string {
	h := fnv.New32()
	h.Write(cr.Data.Raw)
	if collisionCount != nil {
		h.Write([]byte(strconv.FormatInt(int64(*collisionCount), 10)))
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// revisionName is PARENT-HASH, the parent's name cut to 223 characters.
func revisionName(parent, hash string) string {
	if len(parent) > 223 {
		parent = parent[:223]
	}
	return parent + "-" + hash
}

// newRevision is the ControllerRevision number revision of set's current template: labelled
// with the template's labels and its hash, annotated with the set's annotations, controlled by set.
func newRevision(set *appsv1.StatefulSet, revision int64, collisionCount *int32) (*appsv1.ControllerRevision, error) {
	patch, err := revisionPatch(set)
	if err != nil {
		return nil, err
	}
	cr := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       set.Namespace,
			Labels:          maps.Clone(set.Spec.Template.Labels),
			Annotations:     maps.Clone(set.Annotations),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(set, controllerKind)},
		},
		Data:     runtime.RawExtension{Raw: patch},
		Revision: revision,
	}
	if cr.Labels == nil {
		cr.Labels = map[string]string{}
	}
	hash := hashRevision(cr, collisionCount)
	cr.Name = revisionName(set.Name, hash)
	cr.Labels[RevisionHashLabel] = hash
	return cr, nil
}

// applyRevision is set with the template the revision stores.
func applyRevision(set *appsv1.StatefulSet, cr *appsv1.ControllerRevision) (*appsv1.StatefulSet, error) {
	clone := set.DeepCopy()
	orig, err := json.Marshal(clone)
	if err != nil {
		return nil, err
	}
	patched, err := strategicpatch.StrategicMergePatch(orig, cr.Data.Raw, clone)
	if err != nil {
		return nil, fmt.Errorf("apply revision %s: %w", cr.Name, err)
	}
	out := &appsv1.StatefulSet{}
	if err := json.Unmarshal(patched, out); err != nil {
		return nil, fmt.Errorf("apply revision %s: %w", cr.Name, err)
	}
	return out, nil
}

// equalRevision: same hash label (when both parse) and the same data.
func equalRevision(a, b *appsv1.ControllerRevision) bool {
	if a == nil || b == nil {
		return a == b
	}
	ha, errA := strconv.ParseInt(a.Labels[RevisionHashLabel], 10, 32)
	hb, errB := strconv.ParseInt(b.Labels[RevisionHashLabel], 10, 32)
	if errA == nil && errB == nil && ha != hb {
		return false
	}
	return bytes.Equal(a.Data.Raw, b.Data.Raw)
}

// findEqualRevisions are the revisions equal to needle, in their order.
func findEqualRevisions(revisions []*appsv1.ControllerRevision, needle *appsv1.ControllerRevision) []*appsv1.ControllerRevision {
	var out []*appsv1.ControllerRevision
	for _, r := range revisions {
		if equalRevision(r, needle) {
			out = append(out, r)
		}
	}
	return out
}

// sortRevisions orders by revision number, then creation time, then name.
func sortRevisions(revisions []*appsv1.ControllerRevision) {
	sort.SliceStable(revisions, func(i, j int) bool {
		a, b := revisions[i], revisions[j]
		if a.Revision != b.Revision {
			return a.Revision < b.Revision
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
}

// nextRevision is one more than the highest revision number (1 for none); revisions are sorted.
func nextRevision(revisions []*appsv1.ControllerRevision) int64 {
	if len(revisions) == 0 {
		return 1
	}
	return revisions[len(revisions)-1].Revision + 1
}

// historyToTruncate are the revisions to delete: the oldest of those no pod, the current and
// the update revision use, beyond set's revisionHistoryLimit. revisions are sorted.
func historyToTruncate(set *appsv1.StatefulSet, livePods []string, revisions []*appsv1.ControllerRevision, current, update *appsv1.ControllerRevision) []*appsv1.ControllerRevision {
	live := map[string]bool{}
	if current != nil {
		live[current.Name] = true
	}
	if update != nil {
		live[update.Name] = true
	}
	for _, r := range livePods {
		live[r] = true
	}
	var old []*appsv1.ControllerRevision
	for _, r := range revisions {
		if !live[r.Name] {
			old = append(old, r)
		}
	}
	limit := historyLimit(set)
	if limit < 0 || len(old) <= limit {
		return nil
	}
	return old[:len(old)-limit]
}
