package registry

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func cscTestCapacity(mutate func(*storagev1.CSIStorageCapacity)) *storagev1.CSIStorageCapacity {
	c := &storagev1.CSIStorageCapacity{ObjectMeta: metav1.ObjectMeta{Name: "csc-1", Namespace: "default"}, StorageClassName: "e2e.example.com"}
	if mutate != nil {
		mutate(c)
	}
	return c
}

func TestCSIStorageCapacityValidate(t *testing.T) {
	q := func(s string) *resource.Quantity { v := resource.MustParse(s); return &v }
	tests := []struct {
		name   string
		mutate func(*storagev1.CSIStorageCapacity)
		want   []string
	}{
		{"ok", nil, nil},
		{"ok with topology and sizes", func(c *storagev1.CSIStorageCapacity) {
			c.NodeTopology = &metav1.LabelSelector{MatchLabels: map[string]string{"topology.kubernetes.io/zone": "a"}}
			c.Capacity, c.MaximumVolumeSize = q("10Gi"), q("1Gi")
		}, nil},
		{"no storage class", func(c *storagev1.CSIStorageCapacity) { c.StorageClassName = "" }, []string{
			`storageClassName: Invalid value: "": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
		}},
		{"negative capacity", func(c *storagev1.CSIStorageCapacity) { c.Capacity = q("-1") },
			[]string{`capacity: Invalid value: "-1": must be greater than or equal to 0`}},
		{"bad topology", func(c *storagev1.CSIStorageCapacity) {
			c.NodeTopology = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "zone", Operator: "In"}}}
		}, []string{"nodeTopology.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, metaErrStrings(cscValidate(cscTestCapacity(tt.mutate)))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCSIStorageCapacityValidateUpdate: capacity changes, storage class and topology do not.
func TestCSIStorageCapacityValidateUpdate(t *testing.T) {
	r, _ := lookup(storageGVR("csistoragecapacities"))
	old := cscTestCapacity(nil)
	grown := cscTestCapacity(func(c *storagev1.CSIStorageCapacity) {
		v := resource.MustParse("5Gi")
		c.Capacity, c.MaximumVolumeSize = &v, &v
		c.Annotations = map[string]string{"updated": "true"}
	})
	if errs := r.ValidateUpdate(grown, old); len(errs) != 0 {
		t.Errorf("capacity change refused: %v", errs)
	}
	moved := cscTestCapacity(func(c *storagev1.CSIStorageCapacity) {
		c.StorageClassName = "other"
		c.NodeTopology = &metav1.LabelSelector{MatchLabels: map[string]string{"zone": "b"}}
	})
	got := metaErrStrings(r.ValidateUpdate(moved, old))
	if len(got) != 2 || !strings.HasPrefix(got[0], "nodeTopology: Invalid value:") || got[1] != `storageClassName: Invalid value: "other": field is immutable` {
		t.Errorf("immutable fields: %q", got)
	}
}

func TestCSIStorageCapacityTable(t *testing.T) {
	c := cscTestCapacity(nil)
	if got, _ := cscTable().Row(c); !cmp.Equal(got, []interface{}{"csc-1", "e2e.example.com", "<unset>"}) {
		t.Errorf("row %v", got)
	}
	v := resource.MustParse("10Gi")
	c.Capacity = &v
	if got, _ := cscTable().Row(c); got[2] != "10Gi" {
		t.Errorf("capacity cell %v", got[2])
	}
}
