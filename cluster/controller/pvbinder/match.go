// Package pvbinder binds PersistentVolumeClaims to PersistentVolumes in both directions (a
// claim finds the smallest fitting available volume; a volume pre-bound through claimRef
// finds its claim) and carries out reclaim policies when a claim goes: Retain leaves the
// volume Released, Delete removes the volume — and its hostPath directory only when drover
// created that directory (cluster/volume leaves a marker there).
package pvbinder

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// claimClass is a claim's storage class ("" when unset: drover has no default class).
func claimClass(c *corev1.PersistentVolumeClaim) string {
	if c.Spec.StorageClassName != nil {
		return *c.Spec.StorageClassName
	}
	return ""
}

// fits reports whether volume pv can serve claim c.
func fits(pv *corev1.PersistentVolume, c *corev1.PersistentVolumeClaim) bool {
	if pv.Spec.StorageClassName != claimClass(c) {
		return false
	}
	if mode(pv.Spec.VolumeMode) != mode(c.Spec.VolumeMode) {
		return false
	}
	for _, want := range c.Spec.AccessModes {
		found := false
		for _, have := range pv.Spec.AccessModes {
			found = found || have == want
		}
		if !found {
			return false
		}
	}
	req := c.Spec.Resources.Requests[corev1.ResourceStorage]
	capacity := pv.Spec.Capacity[corev1.ResourceStorage]
	if capacity.Cmp(req) < 0 {
		return false
	}
	if c.Spec.Selector != nil {
		sel, err := metav1.LabelSelectorAsSelector(c.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(pv.Labels)) {
			return false
		}
	}
	return true
}

func mode(m *corev1.PersistentVolumeMode) corev1.PersistentVolumeMode {
	if m == nil {
		return corev1.PersistentVolumeFilesystem
	}
	return *m
}

// available reports whether pv is free for any claim.
func available(pv *corev1.PersistentVolume) bool {
	return pv.Spec.ClaimRef == nil && pv.DeletionTimestamp == nil &&
		(pv.Status.Phase == "" || pv.Status.Phase == corev1.VolumeAvailable || pv.Status.Phase == corev1.VolumePending)
}

// Best returns the smallest available volume that fits c (ties: by name), or nil.
func Best(c *corev1.PersistentVolumeClaim, pvs []*corev1.PersistentVolume) *corev1.PersistentVolume {
	var cands []*corev1.PersistentVolume
	for _, pv := range pvs {
		if prebound(pv, c) {
			return pv
		}
		if available(pv) && fits(pv, c) {
			cands = append(cands, pv)
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i].Spec.Capacity[corev1.ResourceStorage], cands[j].Spec.Capacity[corev1.ResourceStorage]
		if x := a.Cmp(b); x != 0 {
			return x < 0
		}
		return cands[i].Name < cands[j].Name
	})
	if len(cands) == 0 {
		return nil
	}
	return cands[0]
}

// prebound reports whether pv names claim c in its claimRef (and is not bound to another uid).
func prebound(pv *corev1.PersistentVolume, c *corev1.PersistentVolumeClaim) bool {
	r := pv.Spec.ClaimRef
	return r != nil && r.Name == c.Name && r.Namespace == c.Namespace && (r.UID == "" || r.UID == c.UID)
}
