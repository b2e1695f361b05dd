package registry

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Kubernetes' limits on Indexed jobs: maxParallelismForIndexedJob, maxFailedIndexesForIndexedJob,
// completionsSoftLimit, parallelismLimitForHighCompletions and
// maxFailedIndexesLimitForHighCompletions.
const (
	jobMaxParallelismIndexed          = 100_000
	jobMaxFailedIndexes               = 100_000
	jobCompletionsSoftLimit           = 100_000
	jobParallelismLimitHighCompletion = 10_000
	jobMaxFailedIndexesHighCompletion = 10_000
)

// Kubernetes' maxManagedByLength, maxJobSuccessPolicySucceededIndexesLimit and
// maxSuccessPolicyRule.
const (
	jobMaxManagedByLength        = 63
	jobMaxSucceededIndexesLength = 64 * 1024
	jobMaxSuccessPolicyRules     = 20
)

// jobValidate is Kubernetes' ValidateJob (metadata aside): the generated selector and the spec.
func jobValidate(job *batchv1.Job) field.ErrorList {
	errs := jobValidateGeneratedSelector(job)
	errs = append(errs, jobValidateSpec(&job.Spec, field.NewPath("spec"))...)
	return errs
}

// jobValidateGeneratedSelector checks, unless manualSelector is true, that the template carries
// the generated labels and the selector matches them.
func jobValidateGeneratedSelector(job *batchv1.Job) field.ErrorList {
	if (job.Spec.ManualSelector != nil && *job.Spec.ManualSelector) || job.Spec.Selector == nil {
		return nil
	}
	var errs field.ErrorList
	if job.UID == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "uid"), ""))
	}
	metaPath := field.NewPath("spec", "template", "metadata")
	expected := map[string]string{
		jobLegacyUIDLabel: string(job.UID), jobLegacyNameLabel: job.Name,
		batchv1.ControllerUidLabel: string(job.UID), batchv1.JobNameLabel: job.Name,
	}
	for _, key := range []string{jobLegacyUIDLabel, jobLegacyNameLabel, batchv1.ControllerUidLabel, batchv1.JobNameLabel} {
		errs = append(errs, jobHasLabel(job.Spec.Template.Labels, metaPath, key, expected[key])...)
	}
	if sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector); err == nil && !sel.Matches(labels.Set(expected)) {
		errs = append(errs, field.Invalid(field.NewPath("spec", "selector"), job.Spec.Selector, "`selector` not auto-generated"))
	}
	return errs
}

// jobHasLabel is Kubernetes' ValidateHasLabel.
func jobHasLabel(have map[string]string, metaPath *field.Path, key, want string) field.ErrorList {
	got, ok := have[key]
	if !ok {
		return field.ErrorList{field.Required(metaPath.Child("labels").Key(key), want)}
	}
	if got != want {
		return field.ErrorList{field.Invalid(metaPath.Child("labels").Key(key), have, want)}
	}
	return nil
}

// jobValidateSpec is Kubernetes' ValidateJobSpec: the common rules plus a required selector
// that matches the template labels.
func jobValidateSpec(spec *batchv1.JobSpec, p *field.Path) field.ErrorList {
	errs := jobValidateSpecCommon(spec, p)
	if spec.Selector == nil {
		errs = append(errs, field.Required(p.Child("selector"), ""))
	} else {
		errs = append(errs, metav1validation.ValidateLabelSelector(spec.Selector, metav1validation.LabelSelectorValidationOptions{}, p.Child("selector"))...)
	}
	if sel, err := metav1.LabelSelectorAsSelector(spec.Selector); err == nil && !sel.Matches(labels.Set(spec.Template.Labels)) {
		errs = append(errs, field.Invalid(p.Child("template", "metadata", "labels"), spec.Template.Labels, "`selector` does not match template `labels`"))
	}
	return errs
}

// jobValidateSpecCommon is Kubernetes' validateJobSpec, shared by jobs and cron job templates.
func jobValidateSpecCommon(spec *batchv1.JobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct {
		name  string
		value *int32
	}{
		{"parallelism", spec.Parallelism}, {"completions", spec.Completions}, {"backoffLimit", spec.BackoffLimit},
		{"ttlSecondsAfterFinished", spec.TTLSecondsAfterFinished}, {"backoffLimitPerIndex", spec.BackoffLimitPerIndex},
		{"maxFailedIndexes", spec.MaxFailedIndexes},
	} {
		if f.value != nil {
			errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*f.value), p.Child(f.name))...)
		}
	}
	if spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(*spec.ActiveDeadlineSeconds, p.Child("activeDeadlineSeconds"))...)
	}
	if spec.ManagedBy != nil {
		errs = append(errs, validation.IsDomainPrefixedPath(p.Child("managedBy"), *spec.ManagedBy)...)
		if len(*spec.ManagedBy) > jobMaxManagedByLength {
			errs = append(errs, field.TooLongMaxLength(p.Child("managedBy"), *spec.ManagedBy, jobMaxManagedByLength))
		}
	}
	errs = append(errs, jobValidateCompletionMode(spec, p)...)
	if spec.PodFailurePolicy != nil {
		errs = append(errs, jobValidatePodFailurePolicy(spec, p.Child("podFailurePolicy"))...)
	}
	if spec.SuccessPolicy != nil {
		if spec.CompletionMode == nil || *spec.CompletionMode != batchv1.IndexedCompletion {
			errs = append(errs, field.Invalid(p.Child("successPolicy"), *spec.SuccessPolicy, "requires indexed completion mode"))
		} else {
			errs = append(errs, jobValidateSuccessPolicy(spec, p.Child("successPolicy"))...)
		}
	}
	if r := spec.PodReplacementPolicy; r != nil {
		allowed := []batchv1.PodReplacementPolicy{batchv1.Failed, batchv1.TerminatingOrFailed}
		if spec.PodFailurePolicy != nil {
			allowed = allowed[:1]
		}
		if *r != batchv1.Failed && (spec.PodFailurePolicy != nil || *r != batchv1.TerminatingOrFailed) {
			errs = append(errs, field.NotSupported(p.Child("podReplacementPolicy"), *r, allowed))
		}
	}
	errs = append(errs, podTemplateValidate(&spec.Template, p.Child("template"))...)
	rp, rpPath := spec.Template.Spec.RestartPolicy, p.Child("template", "spec", "restartPolicy")
	switch {
	case rp == corev1.RestartPolicyAlways || rp == "":
		errs = append(errs, field.Required(rpPath, fmt.Sprintf("valid values: %q, %q", corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)))
	case rp != corev1.RestartPolicyOnFailure && rp != corev1.RestartPolicyNever:
		// already reported by the pod spec validation
	case spec.PodFailurePolicy != nil && rp != corev1.RestartPolicyNever:
		errs = append(errs, field.Invalid(rpPath, rp, fmt.Sprintf("only %q is supported when podFailurePolicy is specified", corev1.RestartPolicyNever)))
	}
	return errs
}

// jobValidateCompletionMode checks completionMode and what the Indexed mode requires.
func jobValidateCompletionMode(spec *batchv1.JobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.MaxFailedIndexes != nil && spec.BackoffLimitPerIndex == nil {
		errs = append(errs, field.Required(p.Child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
	}
	mode := spec.CompletionMode
	if mode != nil && *mode != batchv1.NonIndexedCompletion && *mode != batchv1.IndexedCompletion {
		errs = append(errs, field.NotSupported(p.Child("completionMode"), *mode,
			[]batchv1.CompletionMode{batchv1.NonIndexedCompletion, batchv1.IndexedCompletion}))
	}
	if mode != nil && *mode == batchv1.IndexedCompletion {
		if spec.Completions == nil {
			errs = append(errs, field.Required(p.Child("completions"), fmt.Sprintf("when completion mode is %s", batchv1.IndexedCompletion)))
		}
		if spec.Parallelism != nil && *spec.Parallelism > jobMaxParallelismIndexed {
			errs = append(errs, field.Invalid(p.Child("parallelism"), *spec.Parallelism,
				fmt.Sprintf("must be less than or equal to %d when completion mode is %s", jobMaxParallelismIndexed, batchv1.IndexedCompletion)))
		}
		maxFailed := spec.MaxFailedIndexes
		if spec.Completions != nil && maxFailed != nil && *maxFailed > *spec.Completions {
			errs = append(errs, field.Invalid(p.Child("maxFailedIndexes"), *maxFailed, "must be less than or equal to completions"))
		}
		if maxFailed != nil && *maxFailed > jobMaxFailedIndexes {
			errs = append(errs, field.Invalid(p.Child("maxFailedIndexes"), *maxFailed, fmt.Sprintf("must be less than or equal to %d", jobMaxFailedIndexes)))
		}
		if spec.Completions != nil && *spec.Completions > jobCompletionsSoftLimit && spec.BackoffLimitPerIndex != nil {
			if maxFailed == nil {
				errs = append(errs, field.Required(p.Child("maxFailedIndexes"), fmt.Sprintf("must be specified when completions is above %d", jobCompletionsSoftLimit)))
			}
			if spec.Parallelism != nil && *spec.Parallelism > jobParallelismLimitHighCompletion {
				errs = append(errs, field.Invalid(p.Child("parallelism"), *spec.Parallelism, fmt.Sprintf("must be less than or equal to %d when completions are above %d and used with backoff limit per index", jobParallelismLimitHighCompletion, jobCompletionsSoftLimit)))
			}
			if maxFailed != nil && *maxFailed > jobMaxFailedIndexesHighCompletion {
				errs = append(errs, field.Invalid(p.Child("maxFailedIndexes"), *maxFailed, fmt.Sprintf("must be less than or equal to %d when completions are above %d and used with backoff limit per index", jobMaxFailedIndexesHighCompletion, jobCompletionsSoftLimit)))
			}
		}
		return errs
	}
	if spec.BackoffLimitPerIndex != nil {
		errs = append(errs, field.Invalid(p.Child("backoffLimitPerIndex"), *spec.BackoffLimitPerIndex, "requires indexed completion mode"))
	}
	if spec.MaxFailedIndexes != nil {
		errs = append(errs, field.Invalid(p.Child("maxFailedIndexes"), *spec.MaxFailedIndexes, "requires indexed completion mode"))
	}
	return errs
}

// jobValidateUpdate is Kubernetes' ValidateJobUpdate, simplified: besides the create rules,
// selector, template, completions, completionMode, podFailurePolicy, backoffLimitPerIndex,
// managedBy and successPolicy are immutable (Kubernetes relaxes the template while suspended; drover does not).
func jobValidateUpdate(job, old *batchv1.Job) field.ErrorList {
	errs := jobValidate(job)
	p := field.NewPath("spec")
	errs = append(errs, apivalidation.ValidateImmutableField(job.Spec.Completions, old.Spec.Completions, p.Child("completions"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(job.Spec.Selector, old.Spec.Selector, p.Child("selector"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(job.Spec.Template, old.Spec.Template, p.Child("template"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(job.Spec.CompletionMode, old.Spec.CompletionMode, p.Child("completionMode"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(job.Spec.PodFailurePolicy, old.Spec.PodFailurePolicy, p.Child("podFailurePolicy"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(job.Spec.BackoffLimitPerIndex, old.Spec.BackoffLimitPerIndex, p.Child("backoffLimitPerIndex"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(job.Spec.ManagedBy, old.Spec.ManagedBy, p.Child("managedBy"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(job.Spec.SuccessPolicy, old.Spec.SuccessPolicy, p.Child("successPolicy"))...)
	return errs
}

// jobValidateStatus is the counting part of Kubernetes' ValidateJobStatus.
func jobValidateStatus(st *batchv1.JobStatus) field.ErrorList {
	p := field.NewPath("status")
	var errs field.ErrorList
	for _, f := range []struct {
		name  string
		value int32
	}{{"active", st.Active}, {"succeeded", st.Succeeded}, {"failed", st.Failed}} {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(f.value), p.Child(f.name))...)
	}
	if st.Ready != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*st.Ready), p.Child("ready"))...)
	}
	if st.Terminating != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*st.Terminating), p.Child("terminating"))...)
	}
	return errs
}

// Kubernetes' limits on a podFailurePolicy.
const (
	jobMaxPodFailurePolicyRules      = 20
	jobMaxPodFailurePolicyExitCodes  = 255
	jobMaxPodFailurePolicyConditions = 20
)

// jobValidatePodFailurePolicy is Kubernetes' validatePodFailurePolicy.
func jobValidatePodFailurePolicy(spec *batchv1.JobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	rules := spec.PodFailurePolicy.Rules
	if len(rules) > jobMaxPodFailurePolicyRules {
		errs = append(errs, field.TooMany(p.Child("rules"), len(rules), jobMaxPodFailurePolicyRules))
	}
	containers := sets.New[string]()
	for _, c := range spec.Template.Spec.Containers {
		containers.Insert(c.Name)
	}
	for _, c := range spec.Template.Spec.InitContainers {
		containers.Insert(c.Name)
	}
	for i := range rules {
		errs = append(errs, jobValidatePodFailurePolicyRule(spec, &rules[i], p.Child("rules").Index(i), containers)...)
	}
	return errs
}

func jobValidatePodFailurePolicyRule(spec *batchv1.JobSpec, rule *batchv1.PodFailurePolicyRule, p *field.Path, containers sets.Set[string]) field.ErrorList {
	var errs field.ErrorList
	actions := []string{string(batchv1.PodFailurePolicyActionCount), string(batchv1.PodFailurePolicyActionFailIndex),
		string(batchv1.PodFailurePolicyActionFailJob), string(batchv1.PodFailurePolicyActionIgnore)}
	switch {
	case rule.Action == "":
		errs = append(errs, field.Required(p.Child("action"), fmt.Sprintf("valid values: %q", actions)))
	case rule.Action == batchv1.PodFailurePolicyActionFailIndex:
		if spec.BackoffLimitPerIndex == nil {
			errs = append(errs, field.Invalid(p.Child("action"), rule.Action, "requires the backoffLimitPerIndex to be set"))
		}
	case !slices.Contains(actions, string(rule.Action)):
		errs = append(errs, field.NotSupported(p.Child("action"), rule.Action, actions))
	}
	if rule.OnExitCodes != nil {
		errs = append(errs, jobValidateOnExitCodes(rule.OnExitCodes, p.Child("onExitCodes"), containers)...)
	}
	if len(rule.OnPodConditions) > 0 {
		errs = append(errs, jobValidateOnPodConditions(rule.OnPodConditions, p.Child("onPodConditions"))...)
	}
	if rule.OnExitCodes != nil && len(rule.OnPodConditions) > 0 {
		errs = append(errs, field.Invalid(p, field.OmitValueType{}, "specifying both OnExitCodes and OnPodConditions is not supported"))
	}
	if rule.OnExitCodes == nil && len(rule.OnPodConditions) == 0 {
		errs = append(errs, field.Invalid(p, field.OmitValueType{}, "specifying one of OnExitCodes and OnPodConditions is required"))
	}
	return errs
}

func jobValidateOnExitCodes(req *batchv1.PodFailurePolicyOnExitCodesRequirement, p *field.Path, containers sets.Set[string]) field.ErrorList {
	var errs field.ErrorList
	operators := []string{string(batchv1.PodFailurePolicyOnExitCodesOpIn), string(batchv1.PodFailurePolicyOnExitCodesOpNotIn)}
	if req.Operator == "" {
		errs = append(errs, field.Required(p.Child("operator"), fmt.Sprintf("valid values: %q", operators)))
	} else if !slices.Contains(operators, string(req.Operator)) {
		errs = append(errs, field.NotSupported(p.Child("operator"), req.Operator, operators))
	}
	if req.ContainerName != nil && !containers.Has(*req.ContainerName) {
		errs = append(errs, field.Invalid(p.Child("containerName"), *req.ContainerName, "must be one of the container or initContainer names in the pod template"))
	}
	vp := p.Child("values")
	if len(req.Values) == 0 {
		errs = append(errs, field.Invalid(vp, req.Values, "at least one value is required"))
	} else if len(req.Values) > jobMaxPodFailurePolicyExitCodes {
		errs = append(errs, field.TooMany(vp, len(req.Values), jobMaxPodFailurePolicyExitCodes))
	}
	seen := sets.New[int32]()
	for j, v := range req.Values {
		if req.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && v == 0 {
			errs = append(errs, field.Invalid(vp.Index(j), v, "must not be 0 for the In operator"))
		}
		if seen.Has(v) {
			errs = append(errs, field.Duplicate(vp.Index(j), v))
		}
		seen.Insert(v)
	}
	if !slices.IsSorted(req.Values) {
		errs = append(errs, field.Invalid(vp, req.Values, "must be ordered"))
	}
	return errs
}

func jobValidateOnPodConditions(patterns []batchv1.PodFailurePolicyOnPodConditionsPattern, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(patterns) > jobMaxPodFailurePolicyConditions {
		errs = append(errs, field.TooMany(p, len(patterns), jobMaxPodFailurePolicyConditions))
	}
	statuses := []string{string(corev1.ConditionFalse), string(corev1.ConditionTrue), string(corev1.ConditionUnknown)}
	for j, pat := range patterns {
		for _, msg := range validation.IsQualifiedName(string(pat.Type)) {
			errs = append(errs, field.Invalid(p.Index(j).Child("type"), string(pat.Type), msg))
		}
		if pat.Status == "" {
			errs = append(errs, field.Required(p.Index(j).Child("status"), fmt.Sprintf("valid values: %q", statuses)))
		} else if !slices.Contains(statuses, string(pat.Status)) {
			errs = append(errs, field.NotSupported(p.Index(j).Child("status"), pat.Status, statuses))
		}
	}
	return errs
}

// jobValidateSuccessPolicy is Kubernetes' validateSuccessPolicy (for an Indexed job).
func jobValidateSuccessPolicy(spec *batchv1.JobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	rulesPath := p.Child("rules")
	rules := spec.SuccessPolicy.Rules
	if len(rules) == 0 {
		errs = append(errs, field.Required(rulesPath, "at least one rules must be specified when the successPolicy is specified"))
	}
	if len(rules) > jobMaxSuccessPolicyRules {
		errs = append(errs, field.TooMany(rulesPath, len(rules), jobMaxSuccessPolicyRules))
	}
	for i := range rules {
		errs = append(errs, jobValidateSuccessPolicyRule(spec, &rules[i], rulesPath.Index(i))...)
	}
	return errs
}

// jobValidateSuccessPolicyRule is Kubernetes' validateSuccessPolicyRule. Without completions
// (already reported as required) the indexes and counts cannot be checked.
func jobValidateSuccessPolicyRule(spec *batchv1.JobSpec, rule *batchv1.SuccessPolicyRule, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if rule.SucceededCount == nil && rule.SucceededIndexes == nil {
		errs = append(errs, field.Required(p, "at least one of succeededCount or succeededIndexes must be specified"))
	}
	if spec.Completions == nil {
		return errs
	}
	var total int32
	if rule.SucceededIndexes != nil {
		ip := p.Child("succeededIndexes")
		if len(*rule.SucceededIndexes) > jobMaxSucceededIndexesLength {
			errs = append(errs, field.TooLong(ip, *rule.SucceededIndexes, jobMaxSucceededIndexesLength))
		}
		var err error
		if total, err = jobValidateIndexesFormat(*rule.SucceededIndexes, *spec.Completions); err != nil {
			errs = append(errs, field.Invalid(ip, *rule.SucceededIndexes, fmt.Sprintf("error parsing succeededIndexes: %s", err.Error())))
		}
	}
	if rule.SucceededCount != nil {
		cp := p.Child("succeededCount")
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*rule.SucceededCount), cp)...)
		if *rule.SucceededCount > *spec.Completions {
			errs = append(errs, field.Invalid(cp, *rule.SucceededCount, fmt.Sprintf("must be less than or equal to %d (the number of specified completions)", *spec.Completions)))
		}
		if rule.SucceededIndexes != nil && *rule.SucceededCount > total {
			errs = append(errs, field.Invalid(cp, *rule.SucceededCount, fmt.Sprintf("must be less than or equal to %d (the number of indexes in the specified succeededIndexes field)", total)))
		}
	}
	return errs
}

// jobValidateIndexesFormat is Kubernetes' validateIndexesFormat: comma-separated indexes and
// ranges ("1,3-5"), each below completions, in increasing order; it returns how many indexes
// they name.
func jobValidateIndexesFormat(s string, completions int32) (int32, error) {
	if s == "" {
		return 0, nil
	}
	var last *int32
	var total int32
	for _, interval := range strings.Split(s, ",") {
		x, y, err := jobParseIndexInterval(interval, completions)
		if err != nil {
			return 0, err
		}
		if last != nil && *last >= x {
			return 0, fmt.Errorf("non-increasing order, previous: %d, current: %d", *last, x)
		}
		total += y - x + 1
		last = &y
	}
	return total, nil
}

// jobParseIndexInterval is Kubernetes' parseIndexInterval: "x" or "x-y" with x < y < completions.
func jobParseIndexInterval(interval string, completions int32) (int32, int32, error) {
	limits := strings.Split(interval, "-")
	if len(limits) > 2 {
		return 0, 0, fmt.Errorf("the fragment %q violates the requirement that an index interval can have at most two parts separated by '-'", interval)
	}
	x, err := strconv.Atoi(limits[0])
	if err != nil {
		return 0, 0, fmt.Errorf("cannot convert string to integer for index: %q", limits[0])
	}
	if x >= int(completions) {
		return 0, 0, fmt.Errorf("too large index: %q", limits[0])
	}
	if len(limits) == 1 {
		return int32(x), int32(x), nil
	}
	y, err := strconv.Atoi(limits[1])
	if err != nil {
		return 0, 0, fmt.Errorf("cannot convert string to integer for index: %q", limits[1])
	}
	if y >= int(completions) {
		return 0, 0, fmt.Errorf("too large index: %q", limits[1])
	}
	if x >= y {
		return 0, 0, fmt.Errorf("non-increasing order, previous: %d, current: %d", x, y)
	}
	return int32(x), int32(y), nil
}
