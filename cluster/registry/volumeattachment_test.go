package registry

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// vaTestAttachment is the e2e test's NewVolumeAttachment.
func vaTestAttachment(mutate func(*storagev1.VolumeAttachment)) *storagev1.VolumeAttachment {
	va := &storagev1.VolumeAttachment{
		ObjectMeta: metav1.ObjectMeta{Name: "va-e2e-abcde"},
		Spec: storagev1.VolumeAttachmentSpec{Attacher: "e2e-test.storage.k8s.io", NodeName: "node-1",
			Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: ptr.To("pv-e2e-abcde")}},
	}
	if mutate != nil {
		mutate(va)
	}
	return va
}

func TestVolumeAttachmentValidate(t *testing.T) {
	r, _ := lookup(storageGVR("volumeattachments"))
	inline := &corev1.PersistentVolumeSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "ebs.csi.aws.com", VolumeHandle: "vol-1"}}}
	tests := []struct {
		name   string
		mutate func(*storagev1.VolumeAttachment)
		want   []string
	}{
		{"ok", nil, nil},
		{"ok inline", func(va *storagev1.VolumeAttachment) {
			va.Spec.Source = storagev1.VolumeAttachmentSource{InlineVolumeSpec: inline.DeepCopy()}
		}, nil},
		{"no attacher", func(va *storagev1.VolumeAttachment) { va.Spec.Attacher = "" }, []string{
			"spec.attacher: Required value",
			"spec.attacher: Required value",
			`spec.attacher: Invalid value: "": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
		}},
		{"no source", func(va *storagev1.VolumeAttachment) { va.Spec.Source = storagev1.VolumeAttachmentSource{} },
			[]string{"spec.source: Required value: must specify exactly one of inlineVolumeSpec and persistentVolumeName"}},
		{"two sources", func(va *storagev1.VolumeAttachment) { va.Spec.Source.InlineVolumeSpec = inline.DeepCopy() },
			[]string{"spec.source: Forbidden: must specify exactly one of inlineVolumeSpec and persistentVolumeName"}},
		{"empty pv name", func(va *storagev1.VolumeAttachment) { va.Spec.Source.PersistentVolumeName = ptr.To("") }, []string{
			"spec.source.persistentVolumeName: Required value: must specify non empty persistentVolumeName",
			`spec.source.persistentVolumeName: Invalid value: "": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
		}},
		{"no node", func(va *storagev1.VolumeAttachment) { va.Spec.NodeName = "" }, []string{
			`spec.nodeName: Invalid value: "": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
		}},
		{"inline not csi", func(va *storagev1.VolumeAttachment) {
			spec := inline.DeepCopy()
			spec.CSI, spec.HostPath = nil, &corev1.HostPathVolumeSource{Path: "/x"}
			spec.Capacity = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}
			spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimDelete
			va.Spec.Source = storagev1.VolumeAttachmentSource{InlineVolumeSpec: spec}
		}, []string{
			"spec.source.inlineVolumeSpec.capacity: Forbidden: may not be specified in the context of inline volumes",
			"spec.source.inlineVolumeSpec.csi: Required value: has to be specified in the context of inline volumes",
			"spec.source.inlineVolumeSpec.persistentVolumeReclaimPolicy: Forbidden: may only be Retain in the context of inline volumes",
		}},
		{"status too large", func(va *storagev1.VolumeAttachment) {
			va.Status.AttachmentMetadata = map[string]string{"k": strings.Repeat("v", 256*1024)}
			va.Status.DetachError = &storagev1.VolumeError{Message: strings.Repeat("m", 1025)}
		}, []string{
			"status.attachmentMetadata: Too long: may not be more than 262144 bytes",
			"status.detachError.message: Too long: may not be more than 262144 bytes",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, metaErrStrings(r.Validate(vaTestAttachment(tt.mutate)))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// TestVolumeAttachmentStrategy: a create drops the client's status, the spec is immutable, and
// the status subresource keeps the stored labels and annotations (Kubernetes'
// volumeAttachmentStatusStrategy resets the metadata).
func TestVolumeAttachmentStrategy(t *testing.T) {
	r, _ := lookup(storageGVR("volumeattachments"))
	va := vaTestAttachment(func(va *storagev1.VolumeAttachment) { va.Status.Attached = true })
	r.PrepareForCreate(va)
	if va.Status.Attached {
		t.Errorf("status kept on create: %+v", va.Status)
	}
	old := vaTestAttachment(nil)
	moved := vaTestAttachment(func(va *storagev1.VolumeAttachment) { va.Spec.NodeName = "node-2" })
	got := metaErrStrings(r.ValidateUpdate(moved, old))
	if len(got) != 1 || !strings.HasPrefix(got[0], "spec: Invalid value:") || !strings.HasSuffix(got[0], "field is immutable") {
		t.Errorf("spec change: %q", got)
	}
	relabelled := vaTestAttachment(func(va *storagev1.VolumeAttachment) { va.Labels = map[string]string{"va-e2e": "updated"} })
	if errs := r.ValidateUpdate(relabelled, old); len(errs) != 0 {
		t.Errorf("label change refused: %v", errs)
	}
	old.Labels = map[string]string{"keep": "me"}
	status := vaTestAttachment(func(va *storagev1.VolumeAttachment) {
		va.Labels = map[string]string{"new": "label"}
		va.Status = storagev1.VolumeAttachmentStatus{Attached: true, AttachmentMetadata: map[string]string{"dev": "/dev/xvdb"}}
	})
	r.PrepareForSubresourceUpdate("status", status, old)
	if diff := cmp.Diff(map[string]string{"keep": "me"}, status.Labels); diff != "" || !status.Status.Attached {
		t.Errorf("status update: labels (-want +got):\n%s status %+v", diff, status.Status)
	}
	if errs := r.ValidateStatusUpdate(status, old); len(errs) != 0 {
		t.Errorf("status update refused: %v", errs)
	}
}

func TestVolumeAttachmentTable(t *testing.T) {
	got, err := vaTable().Row(vaTestAttachment(func(va *storagev1.VolumeAttachment) { va.Status.Attached = true }))
	if err != nil {
		t.Fatal(err)
	}
	want := []interface{}{"va-e2e-abcde", "e2e-test.storage.k8s.io", "pv-e2e-abcde", "node-1", true, "<unknown>"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
}
