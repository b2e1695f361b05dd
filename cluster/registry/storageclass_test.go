package registry

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
)

func storageGVR(resource string) schema.GroupVersionResource {
	return storagev1.SchemeGroupVersion.WithResource(resource)
}

// TestStorageResourcesRegistered: the five storage.k8s.io/v1 resources, their scope, short
// names and subresources, as kube-apiserver 1.32 serves them.
func TestStorageResourcesRegistered(t *testing.T) {
	tests := []struct {
		resource, kind string
		namespaced     bool
		short, subs    []string
	}{
		{"storageclasses", "StorageClass", false, []string{"sc"}, nil},
		{"csidrivers", "CSIDriver", false, nil, nil},
		{"csinodes", "CSINode", false, nil, nil},
		{"volumeattachments", "VolumeAttachment", false, nil, []string{"status"}},
		{"csistoragecapacities", "CSIStorageCapacity", true, nil, nil},
	}
	for _, tt := range tests {
		r, ok := lookup(storageGVR(tt.resource))
		if !ok {
			t.Errorf("%s not served", tt.resource)
			continue
		}
		if r.Kind != tt.kind || r.Namespaced != tt.namespaced || !cmp.Equal(r.ShortNames, tt.short) ||
			!cmp.Equal(r.Subresources, tt.subs) || r.HasStatus != (tt.subs != nil) || r.Table == nil || !r.Stored() {
			t.Errorf("%s: kind %s namespaced %v short %v subresources %v hasStatus %v", tt.resource, r.Kind, r.Namespaced, r.ShortNames, r.Subresources, r.HasStatus)
		}
		if gvk := r.GroupVersionKind(); gvk != storagev1.SchemeGroupVersion.WithKind(tt.kind) {
			t.Errorf("%s: %v", tt.resource, gvk)
		}
	}
}

func scTestClass(mutate func(*storagev1.StorageClass)) *storagev1.StorageClass {
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "fast"}, Provisioner: "e2e-fake-provisioner"}
	if mutate != nil {
		mutate(sc)
	}
	scDefault(sc)
	return sc
}

func TestStorageClassDefault(t *testing.T) {
	sc := scTestClass(nil)
	if *sc.ReclaimPolicy != corev1.PersistentVolumeReclaimDelete || *sc.VolumeBindingMode != storagev1.VolumeBindingImmediate {
		t.Errorf("defaults: reclaim %v binding %v", *sc.ReclaimPolicy, *sc.VolumeBindingMode)
	}
	kept := scTestClass(func(sc *storagev1.StorageClass) {
		sc.ReclaimPolicy = ptr.To(corev1.PersistentVolumeReclaimRetain)
		sc.VolumeBindingMode = ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)
	})
	if *kept.ReclaimPolicy != corev1.PersistentVolumeReclaimRetain || *kept.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer {
		t.Errorf("set values replaced: reclaim %v binding %v", *kept.ReclaimPolicy, *kept.VolumeBindingMode)
	}
}

func TestStorageClassValidate(t *testing.T) {
	many := map[string]string{}
	for i := 0; i < 513; i++ {
		many[strings.Repeat("k", i+1)] = "v"
	}
	term := func(key string, values ...string) corev1.TopologySelectorTerm {
		return corev1.TopologySelectorTerm{MatchLabelExpressions: []corev1.TopologySelectorLabelRequirement{{Key: key, Values: values}}}
	}
	tests := []struct {
		name   string
		mutate func(*storagev1.StorageClass)
		want   []string
	}{
		{"ok", nil, nil},
		{"ok with everything", func(sc *storagev1.StorageClass) {
			sc.Provisioner = "kubernetes.io/aws-ebs"
			sc.Parameters = map[string]string{"type": "gp2"}
			sc.ReclaimPolicy = ptr.To(corev1.PersistentVolumeReclaimRetain)
			sc.VolumeBindingMode = ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)
			sc.AllowedTopologies = []corev1.TopologySelectorTerm{term("topology.kubernetes.io/zone", "a", "b"), term("kubernetes.io/hostname", "n1")}
		}, nil},
		{"no provisioner", func(sc *storagev1.StorageClass) { sc.Provisioner = "" },
			[]string{`provisioner: Required value`}},
		{"bad provisioner", func(sc *storagev1.StorageClass) { sc.Provisioner = "Fake Provisioner" },
			[]string{`provisioner: Invalid value: "fake provisioner": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`}},
		{"empty parameter key", func(sc *storagev1.StorageClass) { sc.Parameters = map[string]string{"": "v"} },
			[]string{`parameters: Invalid value: "": field can not be empty.`}},
		{"too many parameters", func(sc *storagev1.StorageClass) { sc.Parameters = many },
			[]string{`parameters: Too long: may not be more than 512 bytes`}},
		{"parameters too large", func(sc *storagev1.StorageClass) {
			sc.Parameters = map[string]string{"k": strings.Repeat("v", 256*1024)}
		},
			[]string{`parameters: Too long: may not be more than 262144 bytes`}},
		{"recycle", func(sc *storagev1.StorageClass) { sc.ReclaimPolicy = ptr.To(corev1.PersistentVolumeReclaimRecycle) },
			[]string{`reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"`}},
		{"bad binding mode", func(sc *storagev1.StorageClass) { sc.VolumeBindingMode = ptr.To(storagev1.VolumeBindingMode("Later")) },
			[]string{`volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer"`}},
		{"topology without values", func(sc *storagev1.StorageClass) {
			sc.AllowedTopologies = []corev1.TopologySelectorTerm{term("zone")}
		}, []string{`allowedTopologies[0].matchLabelExpressions[0].values: Required value`}},
		{"topology duplicates", func(sc *storagev1.StorageClass) {
			t := term("zone", "a", "a")
			t.MatchLabelExpressions = append(t.MatchLabelExpressions, corev1.TopologySelectorLabelRequirement{Key: "zone", Values: []string{"b"}})
			sc.AllowedTopologies = []corev1.TopologySelectorTerm{t, term("bad key!", "x"), term("bad key!", "x")}
		}, []string{
			`allowedTopologies[0].matchLabelExpressions[0].values[1]: Duplicate value: "a"`,
			`allowedTopologies[0].matchLabelExpressions[1].key: Duplicate value: "zone"`,
			`allowedTopologies[1].matchLabelExpressions[0].key: Invalid value: "bad key!": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
			`allowedTopologies[2].matchLabelExpressions[0].key: Invalid value: "bad key!": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
			`allowedTopologies[2].matchLabelExpressions: Duplicate value: ""`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, metaErrStrings(scValidate(scTestClass(tt.mutate)))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStorageClassValidateUpdate(t *testing.T) {
	r, _ := lookup(storageGVR("storageclasses"))
	old := scTestClass(func(sc *storagev1.StorageClass) { sc.Parameters = map[string]string{"type": "gp2"} })
	relabelled := old.DeepCopy()
	relabelled.Labels = map[string]string{"e2e": "updated"}
	relabelled.AllowVolumeExpansion = ptr.To(true)
	relabelled.MountOptions = []string{"ro"}
	if errs := r.ValidateUpdate(relabelled, old); len(errs) != 0 {
		t.Errorf("label, expansion and mount option change refused: %v", errs)
	}
	changed := scTestClass(func(sc *storagev1.StorageClass) {
		sc.Provisioner = "other"
		sc.Parameters = map[string]string{"type": "io1"}
		sc.ReclaimPolicy = ptr.To(corev1.PersistentVolumeReclaimRetain)
		sc.VolumeBindingMode = ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)
	})
	want := []string{
		"parameters: Forbidden: updates to parameters are forbidden.",
		"provisioner: Forbidden: updates to provisioner are forbidden.",
		"reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden.",
		`volumeBindingMode: Invalid value: "WaitForFirstConsumer": field is immutable`,
	}
	if diff := cmp.Diff(want, metaErrStrings(r.ValidateUpdate(changed, old))); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestStorageClassTable(t *testing.T) {
	sc := scTestClass(func(sc *storagev1.StorageClass) {
		sc.Annotations = map[string]string{StorageClassDefaultAnnotation: "true"}
		sc.AllowVolumeExpansion = ptr.To(true)
	})
	got, err := scTable().Row(sc)
	if err != nil {
		t.Fatal(err)
	}
	want := []interface{}{"fast (default)", "e2e-fake-provisioner", "Delete", "Immediate", true, "<unknown>"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
	sc.Annotations = map[string]string{"storageclass.beta.kubernetes.io/is-default-class": "true"}
	if got, _ := scTable().Row(sc); got[0] != "fast (default)" {
		t.Errorf("beta default annotation: name %v", got[0])
	}
	sc.Annotations = nil
	if got, _ := scTable().Row(sc); got[0] != "fast" {
		t.Errorf("not default: name %v", got[0])
	}
	var names []string
	for _, c := range scTable().Columns {
		names = append(names, c.Name)
	}
	if diff := cmp.Diff([]string{"Name", "Provisioner", "ReclaimPolicy", "VolumeBindingMode", "AllowVolumeExpansion", "Age"}, names); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
}
