package registry

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// TestJobValidatePodFailurePolicy: a podFailurePolicy is checked as Kubernetes'
// validatePodFailurePolicy does, with its texts; a valid one passes and its onPodConditions
// status defaults to True.
func TestJobValidatePodFailurePolicy(t *testing.T) {
	name := func(s string) *string { return &s }
	exit := func(op batchv1.PodFailurePolicyOnExitCodesOperator, values ...int32) *batchv1.PodFailurePolicyOnExitCodesRequirement {
		return &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: op, Values: values}
	}
	withRules := func(rules ...batchv1.PodFailurePolicyRule) func(*batchv1.Job) {
		return func(j *batchv1.Job) { j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: rules} }
	}
	in := batchv1.PodFailurePolicyOnExitCodesOpIn
	tests := []struct {
		name   string
		mutate func(*batchv1.Job)
		want   []string
	}{
		{"valid", withRules(
			batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionFailJob,
				OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{ContainerName: name("pi"), Operator: in, Values: []int32{1, 2, 42}}},
			batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionIgnore,
				OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}}},
			batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionCount, OnExitCodes: exit(batchv1.PodFailurePolicyOnExitCodesOpNotIn, 0)},
		), []string{}},
		{"restartPolicy OnFailure", func(j *batchv1.Job) {
			withRules(batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: exit(in, 1)})(j)
			j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		}, []string{`spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified`}},
		{"actions", withRules(
			batchv1.PodFailurePolicyRule{OnExitCodes: exit(in, 1)},
			batchv1.PodFailurePolicyRule{Action: "Retry", OnExitCodes: exit(in, 1)},
			batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionFailIndex, OnExitCodes: exit(in, 1)},
		), []string{
			`spec.podFailurePolicy.rules[0].action: Required value: valid values: ["Count" "FailIndex" "FailJob" "Ignore"]`,
			`spec.podFailurePolicy.rules[1].action: Unsupported value: "Retry": supported values: "Count", "FailIndex", "FailJob", "Ignore"`,
			`spec.podFailurePolicy.rules[2].action: Invalid value: "FailIndex": requires the backoffLimitPerIndex to be set`,
		}},
		{"onExitCodes", withRules(
			batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionFailJob,
				OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{ContainerName: name("nope")}},
			batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: exit(in, 3, 0, 3)},
			batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: exit("Between", 1)},
		), []string{
			`spec.podFailurePolicy.rules[0].onExitCodes.operator: Required value: valid values: ["In" "NotIn"]`,
			`spec.podFailurePolicy.rules[0].onExitCodes.containerName: Invalid value: "nope": must be one of the container or initContainer names in the pod template`,
			`spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: []int32(nil): at least one value is required`,
			`spec.podFailurePolicy.rules[1].onExitCodes.values[1]: Invalid value: 0: must not be 0 for the In operator`,
			`spec.podFailurePolicy.rules[1].onExitCodes.values[2]: Duplicate value: 3`,
			`spec.podFailurePolicy.rules[1].onExitCodes.values: Invalid value: []int32{3, 0, 3}: must be ordered`,
			`spec.podFailurePolicy.rules[2].onExitCodes.operator: Unsupported value: "Between": supported values: "In", "NotIn"`,
		}},
		{"onPodConditions", withRules(
			batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionIgnore,
				OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: "not a name!", Status: "Maybe"}}},
		), []string{
			`spec.podFailurePolicy.rules[0].onPodConditions[0].type: Invalid value: "not a name!": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
			`spec.podFailurePolicy.rules[0].onPodConditions[0].status: Unsupported value: "Maybe": supported values: "False", "True", "Unknown"`,
		}},
		{"both and neither", withRules(
			batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionIgnore, OnExitCodes: exit(in, 1),
				OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}}},
			batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionIgnore},
		), []string{
			`spec.podFailurePolicy.rules[0]: Invalid value: specifying both OnExitCodes and OnPodConditions is not supported`,
			`spec.podFailurePolicy.rules[1]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := jobTestJob(tt.mutate)
			if d := cmp.Diff(tt.want, podErrStrings(jobValidate(job))); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	job := jobTestJob(withRules(batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionIgnore,
		OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}}}))
	if got := job.Spec.PodFailurePolicy.Rules[0].OnPodConditions[0].Status; got != corev1.ConditionTrue {
		t.Errorf("onPodConditions status defaulted to %q, want True", got)
	}
}

// TestJobValidatePerIndex: backoffLimitPerIndex and maxFailedIndexes as Kubernetes'
// validateJobSpec checks them.
func TestJobValidatePerIndex(t *testing.T) {
	i32 := func(v int32) *int32 { return &v }
	indexed := func(completions, parallelism int32, perIndex, maxFailed *int32) func(*batchv1.Job) {
		return func(j *batchv1.Job) {
			mode := batchv1.IndexedCompletion
			j.Spec.CompletionMode, j.Spec.Completions, j.Spec.Parallelism = &mode, &completions, &parallelism
			j.Spec.BackoffLimitPerIndex, j.Spec.MaxFailedIndexes = perIndex, maxFailed
		}
	}
	tests := []struct {
		name   string
		mutate func(*batchv1.Job)
		want   []string
	}{
		{"valid", indexed(10, 2, i32(1), i32(3)), []string{}},
		{"maxFailedIndexes alone", indexed(10, 2, nil, i32(3)),
			[]string{"spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified"}},
		{"above completions", indexed(10, 2, i32(1), i32(11)),
			[]string{"spec.maxFailedIndexes: Invalid value: 11: must be less than or equal to completions"}},
		{"high completions", indexed(200_000, 20_000, i32(1), nil), []string{
			"spec.maxFailedIndexes: Required value: must be specified when completions is above 100000",
			"spec.parallelism: Invalid value: 20000: must be less than or equal to 10000 when completions are above 100000 and used with backoff limit per index",
		}},
		{"high completions, high maxFailedIndexes", indexed(200_000, 2, i32(1), i32(150_000)), []string{
			"spec.maxFailedIndexes: Invalid value: 150000: must be less than or equal to 100000",
			"spec.maxFailedIndexes: Invalid value: 150000: must be less than or equal to 10000 when completions are above 100000 and used with backoff limit per index",
		}},
		{"FailIndex with backoffLimitPerIndex", func(j *batchv1.Job) {
			indexed(4, 2, i32(1), nil)(j)
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{Action: batchv1.PodFailurePolicyActionFailIndex,
				OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}}}}
		}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, podErrStrings(jobValidate(jobTestJob(tt.mutate)))); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}
