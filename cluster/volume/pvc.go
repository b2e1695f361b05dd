package volume

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var errNFS = errors.New("nfs volumes are not supported on this node")

// setupClaim resolves a persistentVolumeClaim volume to its bound PersistentVolume's
// hostPath or local path. An unbound claim is an error (the node agent retries).
func (m *Manager) setupClaim(ctx context.Context, ns string, src *corev1.PersistentVolumeClaimVolumeSource) (Source, error) {
	pvc, err := m.client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, src.ClaimName, metav1.GetOptions{})
	if err != nil {
		return Source{}, fmt.Errorf("couldn't get persistentvolumeclaim %s/%s: %w", ns, src.ClaimName, err)
	}
	if pvc.Status.Phase != corev1.ClaimBound || pvc.Spec.VolumeName == "" {
		return Source{}, fmt.Errorf("persistentvolumeclaim %q is not bound", src.ClaimName)
	}
	pv, err := m.client.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return Source{}, fmt.Errorf("couldn't get persistentvolume %s of claim %s/%s: %w", pvc.Spec.VolumeName, ns, src.ClaimName, err)
	}
	if err := checkClaimRef(pv, pvc); err != nil {
		return Source{}, err
	}
	path, err := m.pvPath(ctx, pv)
	if err != nil {
		return Source{}, fmt.Errorf("persistentvolume %q: %w", pv.Name, err)
	}
	return Source{HostPath: path, ReadOnly: src.ReadOnly}, nil
}

// checkClaimRef refuses a PersistentVolume bound to another claim (a volume bound by hand
// without a claimRef is accepted).
func checkClaimRef(pv *corev1.PersistentVolume, pvc *corev1.PersistentVolumeClaim) error {
	ref := pv.Spec.ClaimRef
	if ref == nil {
		return nil
	}
	if ref.Name != pvc.Name || (ref.Namespace != "" && ref.Namespace != pvc.Namespace) ||
		(ref.UID != "" && pvc.UID != "" && ref.UID != pvc.UID) {
		return fmt.Errorf("persistentvolume %q is bound to claim %s/%s, not %s/%s",
			pv.Name, ref.Namespace, ref.Name, pvc.Namespace, pvc.Name)
	}
	return nil
}

// pvPath returns the host path of a hostPath PV (made when missing for the unset and
// DirectoryOrCreate types, with every other type checked) or a local PV (which must exist
// and be available on this node).
func (m *Manager) pvPath(ctx context.Context, pv *corev1.PersistentVolume) (string, error) {
	switch s := pv.Spec.PersistentVolumeSource; {
	case s.HostPath != nil:
		var t corev1.HostPathType
		if s.HostPath.Type != nil {
			t = *s.HostPath.Type
		}
		_, statErr := os.Stat(s.HostPath.Path)
		if err := checkHostPath(s.HostPath.Path, t); err != nil {
			return "", err
		}
		if errors.Is(statErr, os.ErrNotExist) {
			// Made here: the Delete reclaim policy may remove it later (and only then).
			if err := markCreated(s.HostPath.Path); err != nil {
				return "", err
			}
		}
		return s.HostPath.Path, nil
	case s.Local != nil:
		if err := m.checkNodeAffinity(ctx, pv); err != nil {
			return "", err
		}
		if _, err := os.Stat(s.Local.Path); err != nil {
			return "", fmt.Errorf("local volume path %s: %w", s.Local.Path, err)
		}
		return s.Local.Path, nil
	case s.NFS != nil:
		return "", errNFS
	}
	return "", errors.New("volume source is not supported on this node")
}

// CreatedMarker is the file drover leaves in a PersistentVolume's hostPath directory that it
// created itself; the PV binder's Delete reclaim policy removes only such directories.
const CreatedMarker = ".drover-created"

func markCreated(dir string) error {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(dir, CreatedMarker), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("mark %s as created by drover: %w", dir, err)
	}
	return f.Close()
}
