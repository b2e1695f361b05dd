package statefulset

import (
	"context"
	"errors"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"
)

// podControl creates, updates and deletes a set's pods and claims, recording Kubernetes'
// events (Kubernetes' StatefulPodControl).
type podControl struct {
	client   kubernetes.Interface
	pods     corelisters.PodLister
	claims   corelisters.PersistentVolumeClaimLister
	recorder record.EventRecorder
}

// createPod creates the pod's missing claims, then the pod, then sets its claims' owners.
func (pc *podControl) createPod(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	if err := pc.createClaims(ctx, set, pod); err != nil {
		pc.podEvent("create", set, pod, err)
		return err
	}
	created, err := pc.client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return err // the cache is behind: no event
	}
	if err == nil {
		if err = pc.updateClaimsForRetention(ctx, set, created); err != nil {
			pc.podEvent("update", set, pod, err)
			return err
		}
	}
	pc.podEvent("create", set, pod, err)
	return err
}

// updatePod gives the pod its identity and storage and its claims their owners.
func (pc *podControl) updatePod(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	const attempts = 10
	for i := 0; ; i++ {
		changed := false
		if !identityMatches(set, pod) {
			updateIdentity(set, pod)
			changed = true
		}
		if !storageMatches(set, pod) {
			updateStorage(set, pod)
			changed = true
			if err := pc.createClaims(ctx, set, pod); err != nil {
				pc.podEvent("update", set, pod, err)
				return err
			}
		}
		if ok, err := pc.claimsMatchRetention(set, pod); err == nil && !ok {
			if err := pc.updateClaimsForRetention(ctx, set, pod); err != nil {
				pc.podEvent("update", set, pod, err)
				return err
			}
		}
		if !changed {
			return nil
		}
		_, err := pc.client.CoreV1().Pods(pod.Namespace).Update(ctx, pod, metav1.UpdateOptions{})
		if err == nil || !apierrors.IsConflict(err) || i+1 >= attempts {
			pc.podEvent("update", set, pod, err)
			return err
		}
		fresh, gerr := pc.pods.Pods(pod.Namespace).Get(pod.Name)
		if gerr != nil {
			return errors.Join(err, gerr)
		}
		pod = fresh.DeepCopy()
	}
}

// deletePod deletes the pod; a pod already gone is an error the caller may ignore.
func (pc *podControl) deletePod(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	err := pc.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{})
	pc.podEvent("delete", set, pod, err)
	return err
}

// createClaims creates the claims of the pod that do not exist; a claim being deleted is an
// error (the pod must wait for it to go).
func (pc *podControl) createClaims(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	var errs []error
	for _, t := range set.Spec.VolumeClaimTemplates {
		claim := claimsOf(set, pod)[t.Name]
		existing, err := pc.claims.PersistentVolumeClaims(claim.Namespace).Get(claim.Name)
		switch {
		case apierrors.IsNotFound(err):
			_, err := pc.client.CoreV1().PersistentVolumeClaims(claim.Namespace).Create(ctx, &claim, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				continue // the cache is behind
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("failed to create PVC %s: %w", claim.Name, err))
			}
			pc.claimEvent(set, pod, &claim, err)
		case err != nil:
			errs = append(errs, fmt.Errorf("failed to retrieve PVC %s: %w", claim.Name, err))
			pc.claimEvent(set, pod, &claim, err)
		case existing.DeletionTimestamp != nil:
			errs = append(errs, fmt.Errorf("pvc %s is being deleted", claim.Name))
		}
	}
	return errors.Join(errs...)
}

// claimIsStale reports whether a claim of the pod still belongs to a former pod of that name
// (its deletion by the garbage collector is pending): the pod must not be created yet.
func (pc *podControl) claimIsStale(set *appsv1.StatefulSet, pod *corev1.Pod) (bool, error) {
	p := retentionPolicy(set)
	if p.WhenScaled == retain && p.WhenDeleted == retain {
		return false, nil
	}
	for _, claim := range claimsOf(set, pod) {
		existing, err := pc.claims.PersistentVolumeClaims(claim.Namespace).Get(claim.Name)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return false, err
		case hasStaleOwnerRef(existing, pod, podKind):
			return true, nil
		}
	}
	return false, nil
}

// claimsMatchRetention reports whether every existing claim of the pod has the owners the
// retention policy asks for.
func (pc *podControl) claimsMatchRetention(set *appsv1.StatefulSet, pod *corev1.Pod) (bool, error) {
	if ordinalOf(pod) < 0 {
		return false, fmt.Errorf("pod %s has no ordinal", pod.Name)
	}
	for _, claim := range claimsOf(set, pod) {
		existing, err := pc.claims.PersistentVolumeClaims(claim.Namespace).Get(claim.Name)
		switch {
		case apierrors.IsNotFound(err):
			return false, fmt.Errorf("claim %s of pod %s not found", claim.Name, pod.Name)
		case err != nil:
			return false, err
		case !claimOwnerUpToDate(existing, set, pod):
			return false, nil
		}
	}
	return true, nil
}

// updateClaimsForRetention rewrites the owners of the pod's claims that do not follow the
// retention policy.
func (pc *podControl) updateClaimsForRetention(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	var errs []error
	for _, claim := range claimsOf(set, pod) {
		existing, err := pc.claims.PersistentVolumeClaims(claim.Namespace).Get(claim.Name)
		if apierrors.IsNotFound(err) {
			continue // not created yet, or the cache is behind: the next sync looks again
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if claimOwnerUpToDate(existing, set, pod) {
			continue
		}
		c := existing.DeepCopy()
		updateClaimOwners(c, set, pod)
		if _, err := pc.client.CoreV1().PersistentVolumeClaims(c.Namespace).Update(ctx, c, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("could not update claim %s for delete policy ownerRefs: %w", c.Name, err))
		}
	}
	return errors.Join(errs...)
}

// podEvent records Kubernetes' event for a pod operation: "create Pod web-0 in StatefulSet web
// successful", or FailedCreate with the error.
func (pc *podControl) podEvent(verb string, set *appsv1.StatefulSet, pod *corev1.Pod, err error) {
	reason := strings.ToUpper(verb[:1]) + verb[1:]
	if err == nil {
		pc.recorder.Event(set, corev1.EventTypeNormal, "Successful"+reason,
			fmt.Sprintf("%s Pod %s in StatefulSet %s successful", verb, pod.Name, set.Name))
		return
	}
	pc.recorder.Event(set, corev1.EventTypeWarning, "Failed"+reason,
		fmt.Sprintf("%s Pod %s in StatefulSet %s failed error: %s", verb, pod.Name, set.Name, err))
}

func (pc *podControl) claimEvent(set *appsv1.StatefulSet, pod *corev1.Pod, claim *corev1.PersistentVolumeClaim, err error) {
	if err == nil {
		pc.recorder.Event(set, corev1.EventTypeNormal, "SuccessfulCreate",
			fmt.Sprintf("create Claim %s Pod %s in StatefulSet %s success", claim.Name, pod.Name, set.Name))
		return
	}
	pc.recorder.Event(set, corev1.EventTypeWarning, "FailedCreate",
		fmt.Sprintf("create Claim %s for Pod %s in StatefulSet %s failed error: %s", claim.Name, pod.Name, set.Name, err))
}
