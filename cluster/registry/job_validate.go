package registry

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// jobMaxParallelismIndexed is Kubernetes' maxParallelismForIndexedJob.
const jobMaxParallelismIndexed = 100_000

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
	errs = append(errs, jobValidateCompletionMode(spec, p)...)
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
// selector, template, completions, completionMode, podFailurePolicy and backoffLimitPerIndex
// are immutable (Kubernetes relaxes the template while suspended; drover does not).
func jobValidateUpdate(job, old *batchv1.Job) field.ErrorList {
	errs := jobValidate(job)
	p := field.NewPath("spec")
	errs = append(errs, apivalidation.ValidateImmutableField(job.Spec.Completions, old.Spec.Completions, p.Child("completions"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(job.Spec.Selector, old.Spec.Selector, p.Child("selector"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(job.Spec.Template, old.Spec.Template, p.Child("template"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(job.Spec.CompletionMode, old.Spec.CompletionMode, p.Child("completionMode"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(job.Spec.PodFailurePolicy, old.Spec.PodFailurePolicy, p.Child("podFailurePolicy"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(job.Spec.BackoffLimitPerIndex, old.Spec.BackoffLimitPerIndex, p.Child("backoffLimitPerIndex"))...)
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
