package registry

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// cjResource describes the batch/v1 cronjobs resource.
func cjResource() *Resource {
	return &Resource{
		Group: "batch", Version: "v1", Resource: "cronjobs", Kind: "CronJob", SingularName: "cronjob",
		ShortNames: []string{"cj"}, Categories: []string{"all"}, Namespaced: true,
		Subresources: []string{"status"}, HasStatus: true,
		New:              func() runtime.Object { return &batchv1.CronJob{} },
		NewList:          func() runtime.Object { return &batchv1.CronJobList{} },
		Default:          func(obj runtime.Object) { cjDefault(obj.(*batchv1.CronJob)) },
		PrepareForCreate: func(obj runtime.Object) { obj.(*batchv1.CronJob).Status = batchv1.CronJobStatus{} },
		Validate:         func(obj runtime.Object) field.ErrorList { return cjValidate(obj.(*batchv1.CronJob)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return cjValidateSpec(&obj.(*batchv1.CronJob).Spec, &old.(*batchv1.CronJob).Spec, field.NewPath("spec"))
		},
		Table: cjTable(),
	}
}

// cjMaxNameLength leaves room for the 11-character suffix of the jobs a cron job creates.
const cjMaxNameLength = 52

// cjDefault is Kubernetes' SetDefaults_CronJob plus the pod template defaults of the job template
// (job defaults such as completions are not applied to templates, as in Kubernetes).
func cjDefault(cj *batchv1.CronJob) {
	spec := &cj.Spec
	if spec.ConcurrencyPolicy == "" {
		spec.ConcurrencyPolicy = batchv1.AllowConcurrent
	}
	if spec.Suspend == nil {
		no := false
		spec.Suspend = &no
	}
	if spec.SuccessfulJobsHistoryLimit == nil {
		spec.SuccessfulJobsHistoryLimit = jobInt32(3)
	}
	if spec.FailedJobsHistoryLimit == nil {
		spec.FailedJobsHistoryLimit = jobInt32(1)
	}
	podSpecDefault(&spec.JobTemplate.Spec.Template.Spec)
}

// cjValidate is Kubernetes' ValidateCronJobCreate (metadata aside).
func cjValidate(cj *batchv1.CronJob) field.ErrorList {
	var errs field.ErrorList
	if len(cj.Name) > cjMaxNameLength {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), cj.Name, fmt.Sprintf("must be no more than %d characters", cjMaxNameLength)))
	}
	return append(errs, cjValidateSpec(&cj.Spec, nil, field.NewPath("spec"))...)
}

// cjValidateSpec is Kubernetes' validateCronJobSpec; old is nil on create.
func cjValidateSpec(spec, old *batchv1.CronJobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.Schedule == "" {
		errs = append(errs, field.Required(p.Child("schedule"), ""))
	} else {
		allowTZ := old != nil && strings.Contains(old.Schedule, "TZ")
		errs = append(errs, cjValidateSchedule(spec.Schedule, allowTZ, spec.TimeZone, p.Child("schedule"))...)
	}
	if spec.StartingDeadlineSeconds != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(*spec.StartingDeadlineSeconds, p.Child("startingDeadlineSeconds"))...)
	}
	if old == nil || !cjSameString(old.TimeZone, spec.TimeZone) {
		errs = append(errs, cjValidateTimeZone(spec.TimeZone, p.Child("timeZone"))...)
	}
	switch spec.ConcurrencyPolicy {
	case batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent:
	case "":
		errs = append(errs, field.Required(p.Child("concurrencyPolicy"), ""))
	default:
		errs = append(errs, field.NotSupported(p.Child("concurrencyPolicy"), spec.ConcurrencyPolicy,
			[]batchv1.ConcurrencyPolicy{batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent}))
	}
	errs = append(errs, cjValidateJobTemplate(&spec.JobTemplate, p.Child("jobTemplate"))...)
	if spec.SuccessfulJobsHistoryLimit != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*spec.SuccessfulJobsHistoryLimit), p.Child("successfulJobsHistoryLimit"))...)
	}
	if spec.FailedJobsHistoryLimit != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*spec.FailedJobsHistoryLimit), p.Child("failedJobsHistoryLimit"))...)
	}
	return errs
}

// cjValidateSchedule is Kubernetes' validateScheduleFormat: a standard cron expression (with
// descriptors such as @hourly) and no TZ= prefix unless the stored schedule already had one.
func cjValidateSchedule(schedule string, allowTZ bool, tz *string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if _, err := cron.ParseStandard(schedule); err != nil {
		errs = append(errs, field.Invalid(p, schedule, err.Error()))
	}
	switch hasTZ := strings.Contains(schedule, "TZ"); {
	case allowTZ && hasTZ && tz != nil:
		errs = append(errs, field.Invalid(p, schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
	case !allowTZ && hasTZ:
		errs = append(errs, field.Invalid(p, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
	}
	return errs
}

// cjTimeZonePart is Kubernetes' validTimeZoneCharacters: one component of an IANA name.
var cjTimeZonePart = regexp.MustCompile(`^[A-Za-z\.\-_0-9+]{1,14}$`)

// cjValidateTimeZone is Kubernetes' validateTimeZone.
func cjValidateTimeZone(tz *string, p *field.Path) field.ErrorList {
	if tz == nil {
		return nil
	}
	if *tz == "" {
		return field.ErrorList{field.Invalid(p, tz, "timeZone must be nil or non-empty string")}
	}
	for _, part := range strings.Split(*tz, "/") {
		if part == "." || part == ".." || strings.HasPrefix(part, "-") || !cjTimeZonePart.MatchString(part) {
			return field.ErrorList{field.Invalid(p, tz, fmt.Sprintf("unknown time zone %s", *tz))}
		}
	}
	var errs field.ErrorList
	if strings.EqualFold(*tz, "Local") {
		errs = append(errs, field.Invalid(p, tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"))
	}
	if _, err := time.LoadLocation(*tz); err != nil {
		errs = append(errs, field.Invalid(p, tz, err.Error()))
	}
	return errs
}

// cjValidateJobTemplate is Kubernetes' ValidateJobTemplateSpec: the job spec rules, with the
// selector left to be generated.
func cjValidateJobTemplate(t *batchv1.JobTemplateSpec, p *field.Path) field.ErrorList {
	errs := jobValidateSpecCommon(&t.Spec, p.Child("spec"))
	if t.Spec.Selector != nil {
		errs = append(errs, field.Invalid(p.Child("spec", "selector"), t.Spec.Selector, "`selector` will be auto-generated"))
	}
	if t.Spec.ManualSelector != nil && *t.Spec.ManualSelector {
		errs = append(errs, field.NotSupported(p.Child("spec", "manualSelector"), t.Spec.ManualSelector, []string{"nil", "false"}))
	}
	return errs
}

func cjSameString(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}
