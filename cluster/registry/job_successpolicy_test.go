package registry

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
)

// TestJobValidateManagedBy: spec.managedBy is checked as Kubernetes' validateJobSpec does (a
// domain-prefixed path of at most 63 characters) and is immutable.
func TestJobValidateManagedBy(t *testing.T) {
	long := "example.com/" + strings.Repeat("a", 52)
	tests := []struct {
		name, managedBy string
		want            []string
	}{
		{"job controller", batchv1.JobControllerName, []string{}},
		{"external", "kueue.x-k8s.io/multikueue", []string{}},
		{"no domain", "kueue", []string{`spec.managedBy: Invalid value: "kueue": must be a domain-prefixed path (such as "acme.io/foo")`}},
		{"too long", long, []string{`spec.managedBy: Too long: may not be more than 63 bytes`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := jobTestJob(func(j *batchv1.Job) { j.Spec.ManagedBy = &tt.managedBy })
			if d := cmp.Diff(tt.want, podErrStrings(jobValidate(job))); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	old := jobTestJob(nil)
	job := old.DeepCopy()
	other := "example.com/other"
	job.Spec.ManagedBy = &other
	if d := cmp.Diff([]string{"spec.managedBy: Invalid value: \"example.com/other\": field is immutable"}, podErrStrings(jobValidateUpdate(job, old))); d != "" {
		t.Errorf("update (-want +got):\n%s", d)
	}
}

// TestJobValidateSuccessPolicy: spec.successPolicy is checked as Kubernetes'
// validateSuccessPolicy does, with its texts, and is immutable.
func TestJobValidateSuccessPolicy(t *testing.T) {
	i32 := func(v int32) *int32 { return &v }
	str := func(s string) *string { return &s }
	indexed := func(rules ...batchv1.SuccessPolicyRule) func(*batchv1.Job) {
		return func(j *batchv1.Job) {
			mode := batchv1.IndexedCompletion
			j.Spec.CompletionMode, j.Spec.Completions, j.Spec.Parallelism = &mode, i32(10), i32(2)
			j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: rules}
		}
	}
	tests := []struct {
		name   string
		mutate func(*batchv1.Job)
		want   []string
	}{
		{"valid", indexed(
			batchv1.SuccessPolicyRule{SucceededIndexes: str("0,2-4,9"), SucceededCount: i32(3)},
			batchv1.SuccessPolicyRule{SucceededCount: i32(10)},
			batchv1.SuccessPolicyRule{SucceededIndexes: str("1")},
		), []string{}},
		{"no rules", indexed(), []string{"spec.successPolicy.rules: Required value: at least one rules must be specified when the successPolicy is specified"}},
		{"too many rules", indexed(func() []batchv1.SuccessPolicyRule {
			out := make([]batchv1.SuccessPolicyRule, 21)
			for i := range out {
				out[i].SucceededCount = i32(1)
			}
			return out
		}()...), []string{"spec.successPolicy.rules: Too many: 21: must have at most 20 items"}},
		{"empty rule", indexed(batchv1.SuccessPolicyRule{}),
			[]string{"spec.successPolicy.rules[0]: Required value: at least one of succeededCount or succeededIndexes must be specified"}},
		{"indexes format", indexed(
			batchv1.SuccessPolicyRule{SucceededIndexes: str("1-2-3")},
			batchv1.SuccessPolicyRule{SucceededIndexes: str("a")},
			batchv1.SuccessPolicyRule{SucceededIndexes: str("3,10")},
			batchv1.SuccessPolicyRule{SucceededIndexes: str("4-2")},
			batchv1.SuccessPolicyRule{SucceededIndexes: str("1-3,3")},
		), []string{
			`spec.successPolicy.rules[0].succeededIndexes: Invalid value: "1-2-3": error parsing succeededIndexes: the fragment "1-2-3" violates the requirement that an index interval can have at most two parts separated by '-'`,
			`spec.successPolicy.rules[1].succeededIndexes: Invalid value: "a": error parsing succeededIndexes: cannot convert string to integer for index: "a"`,
			`spec.successPolicy.rules[2].succeededIndexes: Invalid value: "3,10": error parsing succeededIndexes: too large index: "10"`,
			`spec.successPolicy.rules[3].succeededIndexes: Invalid value: "4-2": error parsing succeededIndexes: non-increasing order, previous: 4, current: 2`,
			`spec.successPolicy.rules[4].succeededIndexes: Invalid value: "1-3,3": error parsing succeededIndexes: non-increasing order, previous: 3, current: 3`,
		}},
		{"succeededCount", indexed(
			batchv1.SuccessPolicyRule{SucceededCount: i32(-1)},
			batchv1.SuccessPolicyRule{SucceededCount: i32(11)},
			batchv1.SuccessPolicyRule{SucceededIndexes: str("0-2"), SucceededCount: i32(4)},
		), []string{
			`spec.successPolicy.rules[0].succeededCount: Invalid value: -1: must be greater than or equal to 0`,
			`spec.successPolicy.rules[1].succeededCount: Invalid value: 11: must be less than or equal to 10 (the number of specified completions)`,
			`spec.successPolicy.rules[2].succeededCount: Invalid value: 4: must be less than or equal to 3 (the number of indexes in the specified succeededIndexes field)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, podErrStrings(jobValidate(jobTestJob(tt.mutate)))); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	nonIndexed := jobTestJob(func(j *batchv1.Job) {
		j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededCount: i32(1)}}}
	})
	var got []string
	for _, e := range jobValidate(nonIndexed) {
		got = append(got, e.Field+" "+e.Type.String()+" "+e.Detail)
	}
	if d := cmp.Diff([]string{"spec.successPolicy Invalid value requires indexed completion mode"}, got); d != "" {
		t.Errorf("non-indexed (-want +got):\n%s", d)
	}
	old := jobTestJob(indexed(batchv1.SuccessPolicyRule{SucceededCount: i32(2)}))
	job := old.DeepCopy()
	job.Spec.SuccessPolicy.Rules[0].SucceededCount = i32(3)
	got = nil
	for _, e := range jobValidateUpdate(job, old) {
		got = append(got, e.Field+" "+e.Type.String()+" "+e.Detail)
	}
	if d := cmp.Diff([]string{"spec.successPolicy Invalid value field is immutable"}, got); d != "" {
		t.Errorf("update (-want +got):\n%s", d)
	}
}
