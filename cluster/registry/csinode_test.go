package registry

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func csiTestNode(drivers ...storagev1.CSINodeDriver) *storagev1.CSINode {
	return &storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}, Spec: storagev1.CSINodeSpec{Drivers: drivers}}
}

func TestCSINodeValidate(t *testing.T) {
	ok := storagev1.CSINodeDriver{Name: "io.kubernetes.storage.mock", NodeID: "node-1",
		TopologyKeys: []string{"company.com/zone1", "company.com/zone2"}, Allocatable: &storagev1.VolumeNodeResources{Count: ptr.To(int32(10))}}
	tests := []struct {
		name    string
		drivers []storagev1.CSINodeDriver
		want    []string
	}{
		{"no drivers", nil, nil},
		{"ok", []storagev1.CSINodeDriver{ok, {Name: "other.example.com", NodeID: strings.Repeat("n", 256)}}, nil},
		{"bad driver", []storagev1.CSINodeDriver{{Name: "", NodeID: strings.Repeat("n", 257),
			Allocatable: &storagev1.VolumeNodeResources{Count: ptr.To(int32(-1))}}}, []string{
			"spec.drivers[0].name: Required value",
			`spec.drivers[0].name: Invalid value: "": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
			`spec.drivers[0].nodeID: Invalid value: "` + strings.Repeat("n", 257) + `": must be 256 characters or less`,
			"spec.drivers[0].allocatable.count: Invalid value: -1: must be greater than or equal to 0",
		}},
		{"no node ID", []storagev1.CSINodeDriver{{Name: "a.example.com"}}, []string{`spec.drivers[0].nodeID: Required value`}},
		{"duplicate driver", []storagev1.CSINodeDriver{ok, ok}, []string{`spec.drivers[1].name: Duplicate value: "io.kubernetes.storage.mock"`}},
		{"topology keys", []storagev1.CSINodeDriver{{Name: "a.example.com", NodeID: "n", TopologyKeys: []string{"zone", "zone", ""}}}, []string{
			`spec.drivers[0]: Duplicate value: "zone"`,
			`spec.drivers[0]: Required value`,
			`spec.drivers[0]: Invalid value: "": name part must be non-empty`,
			`spec.drivers[0]: Invalid value: "": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, metaErrStrings(csiNodeValidate(csiTestNode(tt.drivers...)))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCSINodeValidateUpdate: drivers come and go, but one that stays may not change.
func TestCSINodeValidateUpdate(t *testing.T) {
	r, _ := lookup(storageGVR("csinodes"))
	a := storagev1.CSINodeDriver{Name: "a.example.com", NodeID: "n1"}
	b := storagev1.CSINodeDriver{Name: "b.example.com", NodeID: "n1"}
	old := csiTestNode(a)
	relabelled := csiTestNode(b)
	relabelled.Labels = map[string]string{"e2e": "updated"}
	if errs := r.ValidateUpdate(relabelled, old); len(errs) != 0 {
		t.Errorf("driver swap and label change refused: %v", errs)
	}
	changed := a
	changed.NodeID = "n2"
	got := metaErrStrings(r.ValidateUpdate(csiTestNode(changed, b), old))
	if len(got) != 1 || !strings.HasPrefix(got[0], "CSINodeDriver: Invalid value:") || !strings.HasSuffix(got[0], "field is immutable") {
		t.Errorf("changed driver: %q", got)
	}
}

func TestCSINodeTable(t *testing.T) {
	got, err := csiNodeTable().Row(csiTestNode(storagev1.CSINodeDriver{Name: "a"}, storagev1.CSINodeDriver{Name: "b"}))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]interface{}{"node-1", int64(2), "<unknown>"}, got); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
}
