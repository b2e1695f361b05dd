package registry

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestPriorityClassValidateAndDefault: Kubernetes' ValidatePriorityClass cases
// (pkg/apis/scheduling/validation/validation_test.go) with its messages, and
// SetDefaults_PriorityClass's preemptionPolicy.
func TestPriorityClassValidateAndDefault(t *testing.T) {
	res := podLookup(t, SchedulingGroup, "priorityclasses")
	if res.Namespaced || res.HasStatus || res.Kind != "PriorityClass" || len(res.ShortNames) != 1 || res.ShortNames[0] != "pc" {
		t.Errorf("priorityclasses: namespaced %v, status %v, kind %s, short names %v", res.Namespaced, res.HasStatus, res.Kind, res.ShortNames)
	}
	tests := []struct {
		name string
		pc   schedulingv1.PriorityClass
		want []string
	}{
		{"no description", schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "tier1"}, Value: 100}, nil},
		{"highest user value", schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "tier1"}, Value: HighestUserDefinablePriority}, nil},
		{"negative value", schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "tier1"}, Value: -5}, nil},
		{"system node critical", schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "system-node-critical"}, Value: 2000001000,
			Description: "other words"}, nil},
		{"system class with another value", schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "system-node-critical"}, Value: 0},
			[]string{"metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: value of system-node-critical PriorityClass must be 2000001000"}},
		{"system class as global default", schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "system-cluster-critical"}, Value: 2000000000, GlobalDefault: true},
			[]string{"metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: globalDefault of system-cluster-critical PriorityClass must be false"}},
		{"unknown system name", schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "system-something"}, Value: 2000001000},
			[]string{"metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-something is not a known system priority class"}},
		{"user value too high", schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "tier1"}, Value: HighestUserDefinablePriority + 1},
			[]string{"value: Forbidden: maximum allowed value of a user defined priority is 1000000000"}},
		{"preemption never", schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "tier1"}, PreemptionPolicy: ptr.To(corev1.PreemptNever)}, nil},
		{"unknown preemption policy", schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "tier1"}, PreemptionPolicy: ptr.To(corev1.PreemptionPolicy("Sometimes"))},
			[]string{`preemptionPolicy: Unsupported value: "Sometimes": supported values: "PreemptLowerPriority", "Never"`}},
		{"empty preemption policy", schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "tier1"}, PreemptionPolicy: ptr.To(corev1.PreemptionPolicy(""))},
			[]string{"preemptionPolicy: Required value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pc := tt.pc.DeepCopy()
			res.Default(pc)
			if pc.PreemptionPolicy == nil {
				t.Fatal("preemptionPolicy not defaulted")
			}
			if tt.pc.PreemptionPolicy == nil && *pc.PreemptionPolicy != corev1.PreemptLowerPriority {
				t.Errorf("preemptionPolicy defaulted to %s", *pc.PreemptionPolicy)
			}
			if diff := cmp.Diff(tt.want, metaErrStrings(res.Validate(pc))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
	for _, spc := range SystemPriorityClasses() {
		res.Default(spc)
		if errs := res.Validate(spc); len(errs) > 0 || !IsSystemPriorityClass(spc.Name) {
			t.Errorf("system class %s: %v", spc.Name, errs)
		}
	}
	if IsSystemPriorityClass("system-something") {
		t.Error("system-something is a system class")
	}
}

// TestPriorityClassUpdateAndTable: value and preemptionPolicy are immutable (Kubernetes'
// ValidatePriorityClassUpdate), description and globalDefault are not; the table is
// printers.go's NAME VALUE GLOBAL-DEFAULT AGE PREEMPTIONPOLICY.
func TestPriorityClassUpdateAndTable(t *testing.T) {
	res := podLookup(t, SchedulingGroup, "priorityclasses")
	old := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "tier1"}, Value: 100}
	res.Default(old)
	for _, tc := range []struct {
		name   string
		mutate func(*schedulingv1.PriorityClass)
		want   []string
	}{
		{"description", func(pc *schedulingv1.PriorityClass) { pc.Description = "other" }, nil},
		{"globalDefault", func(pc *schedulingv1.PriorityClass) { pc.GlobalDefault = true }, nil},
		{"value", func(pc *schedulingv1.PriorityClass) { pc.Value = 101 }, []string{"value: Forbidden: may not be changed in an update."}},
		{"preemptionPolicy", func(pc *schedulingv1.PriorityClass) { pc.PreemptionPolicy = ptr.To(corev1.PreemptNever) },
			[]string{`preemptionPolicy: Invalid value: "Never": field is immutable`}},
	} {
		upd := old.DeepCopy()
		tc.mutate(upd)
		if diff := cmp.Diff(tc.want, metaErrStrings(res.ValidateUpdate(upd, old))); diff != "" {
			t.Errorf("%s: errors (-want +got):\n%s", tc.name, diff)
		}
	}

	var names []string
	for _, c := range res.Table.Columns {
		names = append(names, c.Name)
		if c.Priority != 0 {
			t.Errorf("column %s has priority %d", c.Name, c.Priority)
		}
	}
	if diff := cmp.Diff([]string{"Name", "Value", "Global-Default", "Age", "PreemptionPolicy"}, names); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	row, err := res.Table.Row(&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "pc2"}, Value: 1000000000, GlobalDefault: true,
		PreemptionPolicy: ptr.To(corev1.PreemptLowerPriority)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]interface{}{"pc2", int64(1000000000), true, "<unknown>", "PreemptLowerPriority"}, row); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
	row, _ = res.Table.Row(&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "pc3"}})
	if row[4] != "" {
		t.Errorf("preemption policy cell without a policy: %q", row[4])
	}
}

// TestPodPriorityFieldsValidated: Kubernetes' ValidatePodSpec checks priorityClassName (a DNS
// subdomain) and preemptionPolicy.
func TestPodPriorityFieldsValidated(t *testing.T) {
	pod := podTestPod(func(p *corev1.Pod) {
		p.Spec.PriorityClassName = "Bad_Class"
		p.Spec.PreemptionPolicy = ptr.To(corev1.PreemptionPolicy("Always"))
	})
	want := []string{
		`spec.priorityClassName: Invalid value: "Bad_Class": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
		`spec.preemptionPolicy: Unsupported value: "Always": supported values: "PreemptLowerPriority", "Never"`,
	}
	if d := cmp.Diff(want, podErrStrings(podValidate(pod))); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	ok := podTestPod(func(p *corev1.Pod) {
		p.Spec.PriorityClassName = "system-node-critical"
		p.Spec.PreemptionPolicy = ptr.To(corev1.PreemptNever)
	})
	if errs := podValidate(ok); len(errs) > 0 {
		t.Errorf("valid priority fields refused: %v", errs)
	}
}
