package nodeagent

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover-ci/drover/cluster/volume"
)

// csiPod is the CSIInlineVolumes conformance pod's shape: two csi volumes of a driver no node
// has, beside an emptyDir.
func csiPod(name string) *corev1.Pod {
	c := hollowContainer("app")
	c.VolumeMounts = []corev1.VolumeMount{{Name: "csi-inline-vol1", MountPath: "/mnt/vol1"},
		{Name: "csi-inline-vol2", MountPath: "/mnt/vol2"}, {Name: "scratch", MountPath: "/scratch"}}
	pod := hollowPod(name, c)
	ro := true
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "csi-inline-vol1", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "e2e.example.com"}}},
		{Name: "csi-inline-vol2", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "e2e.example.com", ReadOnly: &ro}}},
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	return pod
}

// wantCSIMountFailure waits for the kubelet's FailedMount event of each csi volume, then checks
// the pod stays Pending with its container waiting in ContainerCreating, no container was
// made, and every FailedMount is about a csi volume.
func wantCSIMountFailure(t *testing.T, h *hollowEnv, name string) {
	t.Helper()
	msg := func(vol string) string {
		return fmt.Sprintf(`FailedMount: MountVolume.SetUp failed for volume %q : kubernetes.io/csi: mounter.SetUpAt failed to get CSI client: `+
			`driver name e2e.example.com not found in the list of registered CSI drivers`, vol)
	}
	h.poll(20*time.Second, "FailedMount events of both csi volumes", func() (bool, string) {
		evs := h.events(name)
		seen := 0
		for _, e := range evs {
			if e == msg("csi-inline-vol1") || e == msg("csi-inline-vol2") {
				seen++
			}
		}
		return seen == 2, strings.Join(evs, " | ")
	})
	p := h.waitPod(name, "Pending with app in ContainerCreating", func(p *corev1.Pod) bool {
		w := statusOf(p, "app").State.Waiting
		return p.Status.Phase == corev1.PodPending && w != nil && w.Reason == "ContainerCreating"
	})
	// Several syncs later nothing has changed: the mount is retried, never skipped.
	h.fc.Step(30 * time.Second)
	time.Sleep(200 * time.Millisecond)
	if cs := h.containers(string(p.UID)); len(cs) != 0 {
		t.Errorf("containers made for a pod whose csi volumes failed: %+v", cs)
	}
	if p, err := h.get(name); err != nil || p.Status.Phase != corev1.PodPending {
		t.Errorf("pod %v: %s", err, describe(p))
	}
	for _, e := range h.events(name) {
		if strings.HasPrefix(e, "FailedMount:") && !strings.Contains(e, "kubernetes.io/csi") {
			t.Errorf("a FailedMount not about a csi volume: %s", e)
		}
		if strings.HasPrefix(e, "Started:") || strings.HasPrefix(e, "Created:") {
			t.Errorf("a container event for a pod that cannot mount its volumes: %s", e)
		}
	}
}

// TestHollowCSIVolumeFailsMount: a hollow node (no volume manager) fails a pod's csi volumes
// as a kubelet without the driver does, instead of simulating them.
func TestHollowCSIVolumeFailsMount(t *testing.T) {
	h := startHollow(t)
	h.create(csiPod("csi-hollow"))
	wantCSIMountFailure(t, h, "csi-hollow")
}

// TestHollowCSIVolumeFailsMountWithVolumeManager: with the volume manager a real node has, the
// same events come from its Setup, one per csi volume, and the emptyDir beside them is set up
// without complaint.
func TestHollowCSIVolumeFailsMountWithVolumeManager(t *testing.T) {
	root := t.TempDir()
	h := startHollowWith(t, func(cfg *Config) { cfg.Volumes = volume.NewManager(root, cfg.Client, cfg.NodeName) })
	pod := csiPod("csi-manager")
	// No ServiceAccount token volume: the manager would mount its tmpfs under root, which
	// outlives the test.
	automount := false
	pod.Spec.AutomountServiceAccountToken = &automount
	h.create(pod)
	wantCSIMountFailure(t, h, "csi-manager")
}
