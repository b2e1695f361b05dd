package pvbinder

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/cluster/volume"
	"github.com/drover-ci/drover/internal/logtest"
	"github.com/drover-ci/drover/internal/uptest"
)

func pv(name, size, path string, policy corev1.PersistentVolumeReclaimPolicy, modes ...corev1.PersistentVolumeAccessMode) *corev1.PersistentVolume {
	return &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)},
			AccessModes:                   modes,
			PersistentVolumeReclaimPolicy: policy,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path}},
		}}
}

func pvc(name, size string, modes ...corev1.PersistentVolumeAccessMode) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: "uid-claim"},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: modes,
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}}},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}}
}

func TestBestPicksSmallestFit(t *testing.T) {
	rwo, rwx := corev1.ReadWriteOnce, corev1.ReadWriteMany
	pvs := []*corev1.PersistentVolume{
		pv("big", "100Gi", "/a", corev1.PersistentVolumeReclaimRetain, rwo),
		pv("small", "1Gi", "/b", corev1.PersistentVolumeReclaimRetain, rwo),
		pv("fit", "10Gi", "/c", corev1.PersistentVolumeReclaimRetain, rwo),
		pv("rwx", "5Gi", "/d", corev1.PersistentVolumeReclaimRetain, rwx),
	}
	if got := Best(pvc("home", "5Gi", rwo), pvs); got == nil || got.Name != "fit" {
		t.Errorf("Best(5Gi RWO) = %v, want fit", got)
	}
	if got := Best(pvc("shared", "5Gi", rwx), pvs); got == nil || got.Name != "rwx" {
		t.Errorf("Best(5Gi RWX) = %v, want rwx", got)
	}
	if got := Best(pvc("huge", "1Ti", rwo), pvs); got != nil {
		t.Errorf("Best(1Ti) = %s, want none", got.Name)
	}
	class := "fast"
	c := pvc("classy", "1Gi", rwo)
	c.Spec.StorageClassName = &class
	if got := Best(c, pvs); got != nil {
		t.Errorf("Best(class fast) = %s, want none (no volume has that class)", got.Name)
	}
}

// TestBindThenReleaseAndDelete binds a claim, then deletes it: the Retain volume is Released,
// the Delete volume goes with the directory drover created, and a directory it did not create
// is kept.
func TestBindThenReleaseAndDelete(t *testing.T) {
	dir := t.TempDir()
	made, foreign := filepath.Join(dir, "made"), filepath.Join(dir, "foreign")
	for _, d := range []string{made, foreign} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(made, volume.CreatedMarker), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rwo := corev1.ReadWriteOnce
	keep := pv("keep", "2Gi", foreign, corev1.PersistentVolumeReclaimRetain, rwo)
	keep.UID = "uid-keep"
	client := fake.NewSimpleClientset(keep, pvc("home", "1Gi", rwo))
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(controller.Context{Logger: logtest.New(t), Client: client, Informers: factory})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	factory.Start(ctx.Done())
	go func() { _ = c.Run(ctx) }()

	uptest.Eventually(t, 10*time.Second, "claim bound to keep", func() bool {
		cl, err := client.CoreV1().PersistentVolumeClaims("default").Get(ctx, "home", metav1.GetOptions{})
		v, _ := client.CoreV1().PersistentVolumes().Get(ctx, "keep", metav1.GetOptions{})
		return err == nil && cl.Spec.VolumeName == "keep" && cl.Status.Phase == corev1.ClaimBound &&
			v.Spec.ClaimRef != nil && v.Spec.ClaimRef.Name == "home" && v.Status.Phase == corev1.VolumeBound
	})
	if err := client.CoreV1().PersistentVolumeClaims("default").Delete(ctx, "home", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 10*time.Second, "Retain volume released", func() bool {
		v, err := client.CoreV1().PersistentVolumes().Get(ctx, "keep", metav1.GetOptions{})
		return err == nil && v.Status.Phase == corev1.VolumeReleased
	})
	if _, err := os.Stat(foreign); err != nil {
		t.Fatalf("retained volume's directory removed: %v", err)
	}

	del := pv("scratch", "1Gi", made, corev1.PersistentVolumeReclaimDelete, rwo)
	del.UID = "uid-del"
	del.Spec.ClaimRef = &corev1.ObjectReference{Namespace: "default", Name: "gone", UID: "uid-gone"}
	if _, err := client.CoreV1().PersistentVolumes().Create(ctx, del, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 10*time.Second, "Delete volume removed with its directory", func() bool {
		_, err := client.CoreV1().PersistentVolumes().Get(ctx, "scratch", metav1.GetOptions{})
		_, serr := os.Stat(made)
		return err != nil && os.IsNotExist(serr)
	})
}

// The marker the reclaimer looks for is the one the volume manager writes.
func TestCreatedMarker(t *testing.T) {
	if createdMarker != volume.CreatedMarker {
		t.Fatalf("pvbinder looks for %q, the volume manager writes %q", createdMarker, volume.CreatedMarker)
	}
}
