package scheduler

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// resolveVolumes finds the PersistentVolumes behind the pod's claims and keeps the node
// affinity of each (a local or hostPath PV with node affinity pins the pod to its node). It
// returns a message, as Kubernetes' VolumeBinding PreFilter does, when the pod cannot be placed
// on any node: a claim missing or being deleted, a claim not bound yet.
func (st *podState) resolveVolumes(s *Snapshot) string {
	unbound := false
	for _, v := range st.pod.Spec.Volumes {
		if v.PersistentVolumeClaim == nil {
			continue
		}
		name := v.PersistentVolumeClaim.ClaimName
		pvc := s.pvcs[st.pod.Namespace+"/"+name]
		if pvc == nil {
			return fmt.Sprintf("persistentvolumeclaim %q not found", name)
		}
		if pvc.DeletionTimestamp != nil {
			return fmt.Sprintf("persistentvolumeclaim %q is being deleted", name)
		}
		if !claimBound(pvc) {
			unbound = true
			continue
		}
		pv := s.pvs[pvc.Spec.VolumeName]
		if pv == nil {
			return fmt.Sprintf("persistentvolume %q not found", pvc.Spec.VolumeName)
		}
		if pv.Spec.NodeAffinity != nil && pv.Spec.NodeAffinity.Required != nil {
			st.volumes = append(st.volumes, compileNodeSelector(pv.Spec.NodeAffinity.Required))
		}
	}
	if unbound {
		return ReasonUnboundPVC
	}
	return ""
}

// claimBound: the claim names its volume and the binder finished (phase Bound, or Kubernetes'
// pv.kubernetes.io/bind-completed annotation while the phase lags).
func claimBound(pvc *corev1.PersistentVolumeClaim) bool {
	if pvc.Spec.VolumeName == "" {
		return false
	}
	_, done := pvc.Annotations["pv.kubernetes.io/bind-completed"]
	return done || pvc.Status.Phase == corev1.ClaimBound
}
