package registry

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func cjTestCronJob(mutate func(*batchv1.CronJob)) *batchv1.CronJob {
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "default"},
		Spec: batchv1.CronJobSpec{
			Schedule: "0 2 * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyOnFailure,
					Containers:    []corev1.Container{{Name: "backup", Image: "busybox:1.36"}},
				},
			}}},
		},
	}
	if mutate != nil {
		mutate(cj)
	}
	cjDefault(cj)
	return cj
}

func TestCronJobDefaults(t *testing.T) {
	cj := cjTestCronJob(nil)
	got := []interface{}{cj.Spec.ConcurrencyPolicy, *cj.Spec.Suspend, *cj.Spec.SuccessfulJobsHistoryLimit,
		*cj.Spec.FailedJobsHistoryLimit, cj.Spec.JobTemplate.Spec.Completions == nil,
		cj.Spec.JobTemplate.Spec.Template.Spec.DNSPolicy}
	want := []interface{}{batchv1.AllowConcurrent, false, int32(3), int32(1), true, corev1.DNSClusterFirst}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestCronJobValidate(t *testing.T) {
	tz := func(s string) *string { return &s }
	neg := int32(-1)
	tests := []struct {
		name   string
		mutate func(*batchv1.CronJob)
		want   []string
	}{
		{"valid", nil, []string{}},
		{"descriptor and time zone", func(cj *batchv1.CronJob) {
			cj.Spec.Schedule = "@hourly"
			cj.Spec.TimeZone = tz("Europe/Berlin")
		}, []string{}},
		{"no schedule", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "" }, []string{"spec.schedule: Required value"}},
		{"bad schedule", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "61 * * * *" },
			[]string{`spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61`}},
		{"TZ in schedule", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "TZ=UTC 0 2 * * *" },
			[]string{`spec.schedule: Invalid value: "TZ=UTC 0 2 * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead`}},
		{"unknown time zone", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = tz("Mars/Olympus") },
			[]string{`spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus`}},
		{"time zone characters", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = tz("Europe/../Berlin") },
			[]string{`spec.timeZone: Invalid value: "Europe/../Berlin": unknown time zone Europe/../Berlin`}},
		{"local time zone", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = tz("Local") },
			[]string{`spec.timeZone: Invalid value: "Local": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones`}},
		{"concurrency policy", func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = "Sometimes" },
			[]string{`spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"`}},
		{"limits", func(cj *batchv1.CronJob) {
			cj.Spec.SuccessfulJobsHistoryLimit, cj.Spec.FailedJobsHistoryLimit = &neg, &neg
		},
			[]string{
				"spec.successfulJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
				"spec.failedJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
			}},
		{"job template restart policy", func(cj *batchv1.CronJob) { cj.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = "" },
			[]string{`spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`}},
		{"job template selector", func(cj *batchv1.CronJob) {
			cj.Spec.JobTemplate.Spec.Selector = &metav1.LabelSelector{}
		}, []string{"spec.jobTemplate.spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` will be auto-generated"}},
		{"long name", func(cj *batchv1.CronJob) { cj.Name = strings.Repeat("a", 53) },
			[]string{`metadata.name: Invalid value: "` + strings.Repeat("a", 53) + `": must be no more than 52 characters`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cj := cjTestCronJob(tt.mutate)
			if d := cmp.Diff(tt.want, podErrStrings(cjValidate(cj))); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestCronJobValidateUpdateKeepsLegacyTZ(t *testing.T) {
	r := podLookup(t, "batch", "cronjobs")
	old := cjTestCronJob(func(cj *batchv1.CronJob) { cj.Spec.Schedule = "CRON_TZ=UTC 0 2 * * *" })
	cj := old.DeepCopy()
	cj.Spec.FailedJobsHistoryLimit = jobInt32(5)
	if errs := r.ValidateUpdate(cj, old); len(errs) != 0 {
		t.Errorf("update of a stored TZ schedule refused: %v", errs)
	}
	fresh := cjTestCronJob(nil)
	cj.Spec.Schedule = "CRON_TZ=UTC 0 3 * * *"
	if errs := r.ValidateUpdate(cj, fresh); len(errs) != 1 || errs[0].Field != "spec.schedule" {
		t.Errorf("adding TZ on update: errors %v, want one on spec.schedule", errs)
	}
}

func TestCronJobTableRow(t *testing.T) {
	now := time.Now()
	cj := cjTestCronJob(func(cj *batchv1.CronJob) {
		cj.CreationTimestamp = metav1.NewTime(now.Add(-50 * time.Hour))
		berlin := "Europe/Berlin"
		cj.Spec.TimeZone = &berlin
	})
	cj.Status = batchv1.CronJobStatus{
		Active:           []corev1.ObjectReference{{Name: "nightly-1"}},
		LastScheduleTime: &metav1.Time{Time: now.Add(-30 * time.Minute)},
	}
	row, err := podLookup(t, "batch", "cronjobs").Table.Row(cj)
	if err != nil {
		t.Fatal(err)
	}
	want := []interface{}{"nightly", "0 2 * * *", "Europe/Berlin", "False", int64(1), "30m", "2d2h", "backup", "busybox:1.36", ""}
	if d := cmp.Diff(want, row); d != "" {
		t.Errorf("row (-want +got):\n%s", d)
	}
	cj.Spec.TimeZone, cj.Status.LastScheduleTime = nil, nil
	row, _ = cjRow(cj)
	if row[2] != "<none>" || row[5] != "<none>" {
		t.Errorf("timezone %v, last schedule %v, want <none> for both", row[2], row[5])
	}
}
