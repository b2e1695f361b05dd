package registry

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func pvTestPV(mutate func(*corev1.PersistentVolume)) *corev1.PersistentVolume {
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "jenkins-home"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv/jenkins"}},
		},
	}
	if mutate != nil {
		mutate(pv)
	}
	pvDefault(pv)
	return pv
}

func TestPersistentVolumeDefault(t *testing.T) {
	pv := pvTestPV(nil)
	if pv.Status.Phase != corev1.VolumePending || pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain ||
		pv.Spec.VolumeMode == nil || *pv.Spec.VolumeMode != corev1.PersistentVolumeFilesystem {
		t.Errorf("defaults: phase %q policy %q mode %v", pv.Status.Phase, pv.Spec.PersistentVolumeReclaimPolicy, pv.Spec.VolumeMode)
	}
	r, _ := lookup(corev1.SchemeGroupVersion.WithResource("persistentvolumes"))
	pv.Status.Phase = corev1.VolumeBound
	r.PrepareForCreate(pv)
	if pv.Status.Phase != corev1.VolumePending || pv.Status.LastPhaseTransitionTime == nil {
		t.Errorf("create status = %+v", pv.Status)
	}
}

func TestPersistentVolumeValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*corev1.PersistentVolume)
		want   []string
	}{
		{"ok", nil, nil},
		{"nfs ok", func(pv *corev1.PersistentVolume) {
			pv.Spec.HostPath, pv.Spec.NFS = nil, &corev1.NFSVolumeSource{Server: "nfs.local", Path: "/exports"}
		}, nil},
		{"no capacity", func(pv *corev1.PersistentVolume) { pv.Spec.Capacity = nil },
			[]string{"spec.capacity: Required value", `spec.capacity: Unsupported value: v1.ResourceList(nil): supported values: "storage"`}},
		{"zero capacity", func(pv *corev1.PersistentVolume) { pv.Spec.Capacity[corev1.ResourceStorage] = resource.MustParse("0") },
			[]string{`spec.capacity[storage]: Invalid value: "0": must be greater than zero`}},
		{"no access modes", func(pv *corev1.PersistentVolume) { pv.Spec.AccessModes = nil },
			[]string{"spec.accessModes: Required value"}},
		{"bad access mode", func(pv *corev1.PersistentVolume) {
			pv.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{"ReadWriteSome"}
		},
			[]string{`spec.accessModes: Unsupported value: "ReadWriteSome": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"`}},
		{"rwop mixed", func(pv *corev1.PersistentVolume) {
			pv.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOncePod, corev1.ReadOnlyMany}
		}, []string{"spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes"}},
		{"no source", func(pv *corev1.PersistentVolume) { pv.Spec.HostPath = nil },
			[]string{"spec: Required value: must specify a volume type"}},
		{"two sources", func(pv *corev1.PersistentVolume) { pv.Spec.NFS = &corev1.NFSVolumeSource{Server: "s", Path: "/p"} },
			[]string{"spec.nfs: Forbidden: may not specify more than 1 volume type"}},
		{"hostPath backsteps", func(pv *corev1.PersistentVolume) { pv.Spec.HostPath.Path = "/srv/../etc" },
			[]string{`spec.hostPath.path: Invalid value: "/srv/../etc": must not contain '..'`}},
		{"local without affinity", func(pv *corev1.PersistentVolume) {
			pv.Spec.HostPath, pv.Spec.Local = nil, &corev1.LocalVolumeSource{Path: "/mnt/disk"}
		}, []string{"spec.nodeAffinity: Required value: Local volume requires node affinity"}},
		{"nfs relative", func(pv *corev1.PersistentVolume) {
			pv.Spec.HostPath, pv.Spec.NFS = nil, &corev1.NFSVolumeSource{Path: "exports"}
		}, []string{"spec.nfs.server: Required value", `spec.nfs.path: Invalid value: "exports": must be an absolute path`}},
		{"bad reclaim policy", func(pv *corev1.PersistentVolume) { pv.Spec.PersistentVolumeReclaimPolicy = "Keep" },
			[]string{`spec.persistentVolumeReclaimPolicy: Unsupported value: "Keep": supported values: "Delete", "Recycle", "Retain"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, metaErrStrings(pvValidate(pvTestPV(tt.mutate)))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPersistentVolumeValidateUpdate(t *testing.T) {
	old := pvTestPV(nil)
	grown := pvTestPV(func(pv *corev1.PersistentVolume) {
		pv.Spec.Capacity[corev1.ResourceStorage] = resource.MustParse("20Gi")
		pv.Spec.ClaimRef = &corev1.ObjectReference{Namespace: "default", Name: "jenkins"}
	})
	if errs := pvValidateUpdate(grown, old); len(errs) != 0 {
		t.Errorf("capacity/claimRef change rejected: %v", errs)
	}
	moved := pvTestPV(func(pv *corev1.PersistentVolume) { pv.Spec.HostPath.Path = "/srv/other" })
	want := []string{"spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation"}
	if diff := cmp.Diff(want, metaErrStrings(pvValidateUpdate(moved, old))); diff != "" {
		t.Errorf("source change (-want +got):\n%s", diff)
	}
}

func TestPersistentVolumeTable(t *testing.T) {
	pv := pvTestPV(func(pv *corev1.PersistentVolume) {
		pv.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany, corev1.ReadWriteOnce}
		pv.Spec.ClaimRef = &corev1.ObjectReference{Namespace: "default", Name: "jenkins"}
		pv.Spec.StorageClassName = "manual"
		pv.Status.Phase = corev1.VolumeBound
	})
	got, err := pvTable().Row(pv)
	if err != nil {
		t.Fatal(err)
	}
	want := []interface{}{"jenkins-home", "10Gi", "RWO,RWX", "Retain", "Bound", "default/jenkins", "manual", "<unset>", "", "<unknown>", "Filesystem"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
	if len(got) != len(pvTable().Columns) {
		t.Errorf("%d cells for %d columns", len(got), len(pvTable().Columns))
	}
}
