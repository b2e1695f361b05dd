package registry

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func pvcTestClaim(mutate func(*corev1.PersistentVolumeClaim)) *corev1.PersistentVolumeClaim {
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "jenkins", Namespace: "default"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: resource.MustParse("5Gi")}},
		},
	}
	if mutate != nil {
		mutate(pvc)
	}
	pvcDefault(pvc)
	return pvc
}

func TestPersistentVolumeClaimDefault(t *testing.T) {
	pvc := pvcTestClaim(nil)
	if pvc.Status.Phase != corev1.ClaimPending || pvc.Spec.VolumeMode == nil || *pvc.Spec.VolumeMode != corev1.PersistentVolumeFilesystem {
		t.Errorf("defaults: phase %q mode %v", pvc.Status.Phase, pvc.Spec.VolumeMode)
	}
}

func TestPersistentVolumeClaimValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*corev1.PersistentVolumeClaim)
		want   []string
	}{
		{"ok", nil, nil},
		{"no access modes", func(c *corev1.PersistentVolumeClaim) { c.Spec.AccessModes = nil },
			[]string{"spec.accessModes: Required value: at least 1 access mode is required"}},
		{"no storage", func(c *corev1.PersistentVolumeClaim) { c.Spec.Resources.Requests = nil },
			[]string{"spec.resources[storage]: Required value"}},
		{"zero storage", func(c *corev1.PersistentVolumeClaim) {
			c.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("0")
		}, []string{`spec.resources[storage]: Invalid value: "0": must be greater than zero`}},
		{"bad volume mode", func(c *corev1.PersistentVolumeClaim) { m := corev1.PersistentVolumeMode("Raw"); c.Spec.VolumeMode = &m },
			[]string{`spec.volumeMode: Unsupported value: "Raw": supported values: "Block", "Filesystem"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, metaErrStrings(pvcValidate(pvcTestClaim(tt.mutate)))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPersistentVolumeClaimValidateUpdate(t *testing.T) {
	const immutable = "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"
	bound := pvcTestClaim(func(c *corev1.PersistentVolumeClaim) { c.Spec.VolumeName = "pv-1"; c.Status.Phase = corev1.ClaimBound })
	size := func(c *corev1.PersistentVolumeClaim, q string) {
		c.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse(q)
	}
	tests := []struct {
		name   string
		old    *corev1.PersistentVolumeClaim
		mutate func(*corev1.PersistentVolumeClaim)
		want   []string
	}{
		{"set volumeName once", pvcTestClaim(nil), func(c *corev1.PersistentVolumeClaim) { c.Spec.VolumeName = "pv-1" }, nil},
		{"change volumeName", bound, func(c *corev1.PersistentVolumeClaim) { c.Spec.VolumeName = "pv-2" }, []string{immutable}},
		{"grow bound", bound, func(c *corev1.PersistentVolumeClaim) { size(c, "10Gi") }, nil},
		{"grow unbound", pvcTestClaim(nil), func(c *corev1.PersistentVolumeClaim) { size(c, "10Gi") }, []string{immutable}},
		{"shrink bound", bound, func(c *corev1.PersistentVolumeClaim) { size(c, "1Gi") },
			[]string{"spec.resources.requests.storage: Forbidden: field can not be less than previous value"}},
		{"change access modes", bound, func(c *corev1.PersistentVolumeClaim) {
			c.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}
		}, []string{immutable}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pvc := tt.old.DeepCopy()
			tt.mutate(pvc)
			if diff := cmp.Diff(tt.want, metaErrStrings(pvcValidateUpdate(pvc, tt.old))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPersistentVolumeClaimTable(t *testing.T) {
	class := "manual"
	pending := pvcTestClaim(func(c *corev1.PersistentVolumeClaim) { c.Spec.StorageClassName = &class })
	bound := pvcTestClaim(func(c *corev1.PersistentVolumeClaim) {
		c.Spec.VolumeName = "jenkins-home"
		c.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound,
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Capacity:    corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}}
	})
	tests := []struct {
		name string
		pvc  *corev1.PersistentVolumeClaim
		want []interface{}
	}{
		{"pending", pending, []interface{}{"jenkins", "Pending", "", "", "", "manual", "<unset>", "<unknown>", "Filesystem"}},
		{"bound", bound, []interface{}{"jenkins", "Bound", "jenkins-home", "10Gi", "RWO", "", "<unset>", "<unknown>", "Filesystem"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pvcTable().Row(tt.pvc)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("row (-want +got):\n%s", diff)
			}
		})
	}
}
