package app

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// Names of the controller's objects: the StatefulSet jenkins makes the claim
// CLAIMTEMPLATE-SET-ORDINAL for its pod jenkins-0. Installs before the StatefulSet had the
// ReplicationController jenkins and the claim jenkins-home.
const (
	jenkinsSet      = "jenkins"
	jenkinsClaim    = "jenkins-home-jenkins-0"
	jenkinsOldClaim = "jenkins-home"
	managedByLabel  = "app.kubernetes.io/managed-by"
)

// rcInstall is an install made before the controller became a StatefulSet: the
// ReplicationController jenkins with JENKINS_HOME on the claim jenkins-home. Either may be gone
// already when an earlier migration stopped half way.
type rcInstall struct {
	rc     *corev1.ReplicationController
	claim  *corev1.PersistentVolumeClaim
	volume string // the old claim's volume ("" when it has none)
}

// findRCInstall returns the ReplicationController install in ns, nil when there is none. An
// RC or claim of those names that drover did not make is an error: install never deletes it.
func findRCInstall(ctx context.Context, kube kubernetes.Interface, ns string) (*rcInstall, error) {
	m := &rcInstall{}
	rc, err := kube.CoreV1().ReplicationControllers(ns).Get(ctx, jenkinsSet, metav1.GetOptions{})
	switch {
	case err == nil:
		if rc.Labels[managedByLabel] != "drover" {
			return nil, fmt.Errorf("replicationcontroller/%s in %s was not made by drover jenkins install (no label %s=drover): delete it, or install into another namespace",
				jenkinsSet, ns, managedByLabel)
		}
		m.rc = rc
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("replicationcontroller %s: %w", jenkinsSet, err)
	}
	if _, err := kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, jenkinsClaim, metav1.GetOptions{}); err == nil {
		// The StatefulSet's claim exists: JENKINS_HOME has moved (or never was elsewhere).
		if m.rc == nil {
			return nil, nil
		}
		return m, nil
	} else if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("persistentvolumeclaim %s: %w", jenkinsClaim, err)
	}
	claim, err := kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, jenkinsOldClaim, metav1.GetOptions{})
	switch {
	case err == nil && claim.Labels[managedByLabel] == "drover":
		m.claim, m.volume = claim, claim.Spec.VolumeName
	case err != nil && !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("persistentvolumeclaim %s: %w", jenkinsOldClaim, err)
	}
	if m.rc == nil && m.claim == nil {
		return nil, nil
	}
	return m, nil
}

// migrate moves JENKINS_HOME from the RC install to the StatefulSet's claim, before the
// StatefulSet is created: the volume's reclaim policy becomes Retain, the RC is scaled to 0 (its
// pod stops: never two controllers on one JENKINS_HOME) and deleted, the old claim is deleted
// (the volume is kept: Retain), the volume is reserved for the claim jenkins-home-jenkins-0
// (claimRef) and that claim is created naming the volume, so the StatefulSet's pod jenkins-0
// mounts the same files. Each step is printed; every step can run again, so an interrupted
// migration continues with the next install.
func (m *rcInstall) migrate(ctx context.Context, kube kubernetes.Interface, ns string, timeout time.Duration, s Streams) error {
	where := "a new volume (the old claim had none)"
	if m.volume != "" {
		where = "persistentvolume/" + m.volume
	}
	fmt.Fprintf(s.Out, "Migrating Jenkins in %s from the ReplicationController to a StatefulSet; JENKINS_HOME stays on %s\n", ns, where)
	if m.volume != "" {
		if err := retainVolume(ctx, kube, m.volume, s); err != nil {
			return err
		}
	}
	if m.rc != nil {
		if err := m.removeRC(ctx, kube, ns, timeout, s); err != nil {
			return err
		}
	}
	if m.claim == nil {
		return nil
	}
	if err := deleteClaim(ctx, kube, m.claim, timeout); err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "persistentvolumeclaim/%s deleted (its volume is kept)\n", jenkinsOldClaim)
	if m.volume != "" {
		if err := reserveVolume(ctx, kube, m.volume, ns, jenkinsClaim); err != nil {
			return err
		}
		fmt.Fprintf(s.Out, "persistentvolume/%s reserved for persistentvolumeclaim/%s\n", m.volume, jenkinsClaim)
	}
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: jenkinsClaim, Namespace: ns, Labels: map[string]string{
			"app.kubernetes.io/name": "jenkins", "app.kubernetes.io/instance": "jenkins", managedByLabel: "drover"}},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: m.claim.Spec.AccessModes, StorageClassName: m.claim.Spec.StorageClassName,
			VolumeMode: m.claim.Spec.VolumeMode, Resources: m.claim.Spec.Resources, VolumeName: m.volume},
	}
	if _, err := kube.CoreV1().PersistentVolumeClaims(ns).Create(ctx, claim, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("persistentvolumeclaim %s: %w", jenkinsClaim, err)
	}
	fmt.Fprintf(s.Out, "persistentvolumeclaim/%s created for the StatefulSet's pod jenkins-0 (volume %s)\n", jenkinsClaim, m.volume)
	return nil
}

// retainVolume makes sure deleting the old claim keeps the volume.
func retainVolume(ctx context.Context, kube kubernetes.Interface, name string, s Streams) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pv, err := kube.CoreV1().PersistentVolumes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("persistentvolume %s: %w", name, err)
		}
		was := pv.Spec.PersistentVolumeReclaimPolicy
		if was == corev1.PersistentVolumeReclaimRetain {
			return nil
		}
		pv.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimRetain
		if _, err := kube.CoreV1().PersistentVolumes().Update(ctx, pv, metav1.UpdateOptions{}); err != nil {
			return err
		}
		fmt.Fprintf(s.Out, "persistentvolume/%s reclaim policy Retain (was %s): it must outlive the claim %s\n", name, was, jenkinsOldClaim)
		return nil
	})
}

// removeRC scales the RC to 0, waits for its pods to be gone, and deletes it.
func (m *rcInstall) removeRC(ctx context.Context, kube kubernetes.Interface, ns string, timeout time.Duration, s Streams) error {
	rcs := kube.CoreV1().ReplicationControllers(ns)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		rc, err := rcs.Get(ctx, jenkinsSet, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if rc.Spec.Replicas != nil && *rc.Spec.Replicas == 0 {
			return nil
		}
		zero := int32(0)
		rc.Spec.Replicas = &zero
		_, err = rcs.Update(ctx, rc, metav1.UpdateOptions{})
		return err
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("scaling replicationcontroller %s to 0: %w", jenkinsSet, err)
	}
	fmt.Fprintf(s.Out, "replicationcontroller/%s scaled to 0\n", jenkinsSet)
	last := ""
	err = wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for _, p := range pods.Items {
			if ref := metav1.GetControllerOf(&p); ref != nil && ref.UID == m.rc.UID {
				if line := fmt.Sprintf("waiting for pod %s to stop", p.Name); line != last {
					fmt.Fprintln(s.Out, line)
					last = line
				}
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("the ReplicationController's pod has not stopped after %s (%s)", timeout, last)
	}
	uid := m.rc.UID
	err = rcs.Delete(ctx, jenkinsSet, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting replicationcontroller %s: %w", jenkinsSet, err)
	}
	fmt.Fprintf(s.Out, "replicationcontroller/%s deleted\n", jenkinsSet)
	return nil
}

// deleteClaim deletes the claim and waits until it is gone.
func deleteClaim(ctx context.Context, kube kubernetes.Interface, claim *corev1.PersistentVolumeClaim, timeout time.Duration) error {
	c := kube.CoreV1().PersistentVolumeClaims(claim.Namespace)
	uid := claim.UID
	err := c.Delete(ctx, claim.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting persistentvolumeclaim %s: %w", claim.Name, err)
	}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		cur, err := c.Get(ctx, claim.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(err) || (err == nil && cur.UID != uid), nil
	})
	if err != nil {
		return fmt.Errorf("persistentvolumeclaim %s is not gone after %s", claim.Name, timeout)
	}
	return nil
}

// reserveVolume points the volume's claimRef at the claim ns/name, without a uid (Kubernetes'
// pre-binding): the old claim's binding goes, and no other claim can take the volume.
func reserveVolume(ctx context.Context, kube kubernetes.Interface, volume, ns, name string) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pv, err := kube.CoreV1().PersistentVolumes().Get(ctx, volume, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("persistentvolume %s: %w", volume, err)
		}
		if r := pv.Spec.ClaimRef; r != nil && r.Namespace == ns && r.Name == name {
			return nil
		}
		pv.Spec.ClaimRef = &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: ns, Name: name}
		_, err = kube.CoreV1().PersistentVolumes().Update(ctx, pv, metav1.UpdateOptions{})
		return err
	})
}
