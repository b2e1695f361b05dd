package registry

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

func csiTestDriver(mutate func(*storagev1.CSIDriver)) *storagev1.CSIDriver {
	d := &storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: "inline.example.com"}}
	if mutate != nil {
		mutate(d)
	}
	csiDriverDefault(d)
	return d
}

// TestCSIDriverDefault: Kubernetes 1.32's defaults, and values a client set are kept.
func TestCSIDriverDefault(t *testing.T) {
	got := csiTestDriver(nil).Spec
	fsGroup := storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy
	want := storagev1.CSIDriverSpec{
		AttachRequired: ptr.To(true), PodInfoOnMount: ptr.To(false), StorageCapacity: ptr.To(false),
		FSGroupPolicy: &fsGroup, VolumeLifecycleModes: []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent},
		RequiresRepublish: ptr.To(false), SELinuxMount: ptr.To(false),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	set := csiTestDriver(func(d *storagev1.CSIDriver) {
		d.Spec.AttachRequired = ptr.To(false)
		d.Spec.VolumeLifecycleModes = []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecycleEphemeral}
		d.Spec.FSGroupPolicy = ptr.To(storagev1.FileFSGroupPolicy)
	}).Spec
	if *set.AttachRequired || set.VolumeLifecycleModes[0] != storagev1.VolumeLifecycleEphemeral || *set.FSGroupPolicy != storagev1.FileFSGroupPolicy {
		t.Errorf("set values replaced: %+v", set)
	}
}

func TestCSIDriverValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*storagev1.CSIDriver)
		want   []string
	}{
		{"ok", nil, nil},
		{"ok ephemeral with tokens", func(d *storagev1.CSIDriver) {
			d.Spec.VolumeLifecycleModes = []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent, storagev1.VolumeLifecycleEphemeral}
			d.Spec.TokenRequests = []storagev1.TokenRequest{{Audience: ""}, {Audience: "vault", ExpirationSeconds: ptr.To(int64(3600))}}
		}, nil},
		{"bad fsGroupPolicy", func(d *storagev1.CSIDriver) { d.Spec.FSGroupPolicy = ptr.To(storagev1.FSGroupPolicy("Sometimes")) },
			[]string{`spec.fsGroupPolicy: Unsupported value: "Sometimes": supported values: "File", "None", "ReadWriteOnceWithFSType"`}},
		{"bad mode", func(d *storagev1.CSIDriver) {
			d.Spec.VolumeLifecycleModes = []storagev1.VolumeLifecycleMode{"Forever"}
		}, []string{`spec.volumeLifecycleModes: Unsupported value: "Forever": supported values: "Persistent", "Ephemeral"`}},
		{"token requests", func(d *storagev1.CSIDriver) {
			d.Spec.TokenRequests = []storagev1.TokenRequest{
				{Audience: "a", ExpirationSeconds: ptr.To(int64(60))}, {Audience: "a"}, {Audience: "b", ExpirationSeconds: ptr.To(int64(1<<32 + 1))}}
		}, []string{
			"spec.tokenRequests[0].expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes",
			`spec.tokenRequests[1].audience: Duplicate value: "a"`,
			"spec.tokenRequests[2].expirationSeconds: Invalid value: 4294967297: may not specify a duration larger than 2^32 seconds",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, metaErrStrings(csiDriverValidateSpec(&csiTestDriver(tt.mutate).Spec))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
	// Undefaulted (as a stored object never is): the booleans are required.
	want := []string{"spec.attachedRequired: Required value", "spec.podInfoOnMount: Required value",
		"spec.storageCapacity: Required value", "spec.seLinuxMount: Required value"}
	if diff := cmp.Diff(want, metaErrStrings(csiDriverValidateSpec(&storagev1.CSIDriverSpec{}))); diff != "" {
		t.Errorf("undefaulted (-want +got):\n%s", diff)
	}
}

// TestCSIDriverValidateUpdate: in 1.32 attachRequired and volumeLifecycleModes are immutable;
// podInfoOnMount, storageCapacity, fsGroupPolicy, requiresRepublish, seLinuxMount and token
// requests may change.
func TestCSIDriverValidateUpdate(t *testing.T) {
	r, _ := lookup(storageGVR("csidrivers"))
	old := csiTestDriver(nil)
	mutable := csiTestDriver(func(d *storagev1.CSIDriver) {
		d.Labels = map[string]string{"e2e": "updated"}
		d.Spec.PodInfoOnMount = ptr.To(true)
		d.Spec.StorageCapacity = ptr.To(true)
		d.Spec.FSGroupPolicy = ptr.To(storagev1.NoneFSGroupPolicy)
		d.Spec.RequiresRepublish = ptr.To(true)
		d.Spec.SELinuxMount = ptr.To(true)
		d.Spec.TokenRequests = []storagev1.TokenRequest{{Audience: "vault"}}
	})
	if errs := r.ValidateUpdate(mutable, old); len(errs) != 0 {
		t.Errorf("mutable fields refused: %v", errs)
	}
	immutable := csiTestDriver(func(d *storagev1.CSIDriver) {
		d.Spec.AttachRequired = ptr.To(false)
		d.Spec.VolumeLifecycleModes = []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecycleEphemeral}
	})
	got := metaErrStrings(r.ValidateUpdate(immutable, old))
	if len(got) != 2 || !strings.HasPrefix(got[0], "spec.attachedRequired: Invalid value:") || !strings.HasSuffix(got[0], "field is immutable") ||
		!strings.HasPrefix(got[1], "spec.volumeLifecycleModes: Invalid value:") || !strings.HasSuffix(got[1], "field is immutable") {
		t.Errorf("immutable fields: %q", got)
	}
}

func TestCSIDriverTable(t *testing.T) {
	d := csiTestDriver(func(d *storagev1.CSIDriver) {
		d.Spec.VolumeLifecycleModes = []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent, storagev1.VolumeLifecycleEphemeral}
		d.Spec.TokenRequests = []storagev1.TokenRequest{{Audience: "a"}, {Audience: "b"}}
	})
	got, err := csiDriverTable().Row(d)
	if err != nil {
		t.Fatal(err)
	}
	want := []interface{}{"inline.example.com", true, false, false, "a,b", false, "Persistent,Ephemeral", "<unknown>"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
	if len(got) != len(csiDriverTable().Columns) {
		t.Errorf("%d cells for %d columns", len(got), len(csiDriverTable().Columns))
	}
	d.Spec.TokenRequests = nil
	if got, _ := csiDriverTable().Row(d); got[4] != "<unset>" {
		t.Errorf("no token requests: %v", got[4])
	}
}

func TestCSIDriverName(t *testing.T) {
	tests := []struct {
		name string
		want []string
	}{
		{"e2e.example.com", nil},
		{"Upper.Example.COM", nil}, // lower-cased before the DNS check, as Kubernetes does
		{"", []string{"driver: Required value", `driver: Invalid value: "": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`}},
		{strings.Repeat("a", 64), []string{"driver: Too long: may not be more than 63 bytes"}},
		{"no_underscores", []string{`driver: Invalid value: "no_underscores": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, metaErrStrings(storageValidateCSIDriverName(tt.name, field.NewPath("driver")))); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tt.name, diff)
		}
	}
}
