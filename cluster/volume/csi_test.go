//go:build linux

package volume

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestCSIVolumeDriverNotRegistered: drover runs no CSI drivers, so a csi volume fails as on a
// kubelet the driver never registered with; each failing volume is its own *SetupError (the
// node agent reports one event per volume) and the pod's other volumes are still set up.
func TestCSIVolumeDriverNotRegistered(t *testing.T) {
	m, _ := newManager(t)
	pod := newPod("uid-csi",
		corev1.Volume{Name: "csi-inline-vol1", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "e2e.example.com"}}},
		corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		corev1.Volume{Name: "csi-inline-vol2", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "other.example.com"}}},
	)
	srcs, err := m.Setup(context.Background(), pod)
	if err == nil || srcs != nil {
		t.Fatalf("Setup = %v, %v; want an error and no sources", srcs, err)
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %T is not joined", err)
	}
	var got []string
	for _, e := range joined.Unwrap() {
		var se *SetupError
		if !errors.As(e, &se) {
			t.Fatalf("error %T %v is not a *SetupError", e, e)
		}
		got = append(got, se.Volume+": "+se.Err.Error())
	}
	want := []string{
		"csi-inline-vol1: kubernetes.io/csi: mounter.SetUpAt failed to get CSI client: driver name e2e.example.com not found in the list of registered CSI drivers",
		"csi-inline-vol2: kubernetes.io/csi: mounter.SetUpAt failed to get CSI client: driver name other.example.com not found in the list of registered CSI drivers",
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("errors:\n%q\nwant\n%q", got, want)
	}
	wantContains(t, err.Error(), `volume "csi-inline-vol1": kubernetes.io/csi: mounter.SetUpAt failed`)
}
