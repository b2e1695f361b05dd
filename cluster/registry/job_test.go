package registry

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const jobTestUID = "3f1c1e2a-0000-4000-8000-000000000001"

// jobTestJob is a job created the way the server does it: uid set, defaults, PrepareForCreate.
func jobTestJob(mutate func(*batchv1.Job)) *batchv1.Job {
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "default", UID: jobTestUID},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "pi", Image: "perl:5.34"}},
		}}},
	}
	if mutate != nil {
		mutate(job)
	}
	jobDefault(job)
	jobPrepareForCreate(job)
	return job
}

func TestJobDefaultsAndGeneratedSelector(t *testing.T) {
	job := jobTestJob(func(j *batchv1.Job) { j.Status.Active = 3 })
	no := false
	mode := batchv1.NonIndexedCompletion
	policy := batchv1.TerminatingOrFailed
	one, six := int32(1), int32(6)
	wantSpec := batchv1.JobSpec{
		Completions: &one, Parallelism: &one, BackoffLimit: &six, CompletionMode: &mode, Suspend: &no,
		PodReplacementPolicy: &policy,
		Selector:             &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: jobTestUID}},
	}
	gotSpec := job.Spec
	gotSpec.Template = corev1.PodTemplateSpec{}
	if d := cmp.Diff(wantSpec, gotSpec); d != "" {
		t.Errorf("spec (-want +got):\n%s", d)
	}
	wantLabels := map[string]string{
		"controller-uid": jobTestUID, batchv1.ControllerUidLabel: jobTestUID,
		"job-name": "pi", batchv1.JobNameLabel: "pi",
	}
	if d := cmp.Diff(wantLabels, job.Spec.Template.Labels); d != "" {
		t.Errorf("template labels (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantLabels, job.Labels); d != "" {
		t.Errorf("job labels (-want +got):\n%s", d)
	}
	if job.Status.Active != 0 {
		t.Errorf("status not reset: %+v", job.Status)
	}
	if job.Spec.Template.Spec.TerminationGracePeriodSeconds == nil {
		t.Error("pod template defaults not applied")
	}
	if errs := jobValidate(job); len(errs) != 0 {
		t.Errorf("defaulted job invalid: %v", errs)
	}
}

func TestJobDefaultsParallelismOnly(t *testing.T) {
	three := int32(3)
	job := jobTestJob(func(j *batchv1.Job) {
		j.Spec.Parallelism = &three
		j.Labels = map[string]string{"team": "ci"}
		j.Spec.Template.Labels = map[string]string{"app": "pi"}
	})
	if job.Spec.Completions != nil || *job.Spec.Parallelism != 3 {
		t.Errorf("completions %v parallelism %d, want nil and 3", job.Spec.Completions, *job.Spec.Parallelism)
	}
	if d := cmp.Diff(map[string]string{"team": "ci"}, job.Labels); d != "" {
		t.Errorf("job labels (-want +got):\n%s", d)
	}
}

func TestJobManualSelector(t *testing.T) {
	yes := true
	job := jobTestJob(func(j *batchv1.Job) {
		j.Spec.ManualSelector = &yes
		j.Spec.Template.Labels = map[string]string{"app": "pi"}
		j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
	})
	if d := cmp.Diff(map[string]string{"app": "pi"}, job.Spec.Template.Labels); d != "" {
		t.Errorf("template labels changed (-want +got):\n%s", d)
	}
	if errs := jobValidate(job); len(errs) != 0 {
		t.Errorf("unexpected errors: %v", errs)
	}
}

func TestJobValidate(t *testing.T) {
	neg := int32(-1)
	indexed := batchv1.IndexedCompletion
	bad := batchv1.CompletionMode("Sometimes")
	tests := []struct {
		name   string
		mutate func(*batchv1.Job)
		want   []string
	}{
		{"restart always", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = "" },
			[]string{`spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`}},
		{"negative counts", func(j *batchv1.Job) {
			j.Spec.Parallelism, j.Spec.Completions, j.Spec.BackoffLimit = &neg, &neg, &neg
		}, []string{
			"spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
			"spec.completions: Invalid value: -1: must be greater than or equal to 0",
			"spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0",
		}},
		{"indexed needs completions", func(j *batchv1.Job) {
			two := int32(2)
			j.Spec.CompletionMode, j.Spec.Parallelism = &indexed, &two
		}, []string{"spec.completions: Required value: when completion mode is Indexed"}},
		{"completion mode enum", func(j *batchv1.Job) { j.Spec.CompletionMode = &bad },
			[]string{`spec.completionMode: Unsupported value: "Sometimes": supported values: "NonIndexed", "Indexed"`}},
		{"wrong uid label", func(j *batchv1.Job) {
			j.Spec.Template.Labels = map[string]string{"controller-uid": "other"}
		}, []string{
			`spec.template.metadata.labels[controller-uid]: Invalid value: map[string]string{"batch.kubernetes.io/controller-uid":"3f1c1e2a-0000-4000-8000-000000000001", "batch.kubernetes.io/job-name":"pi", "controller-uid":"other", "job-name":"pi"}: ` + jobTestUID,
		}},
		{"missing image", func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "" },
			[]string{"spec.template.spec.containers[0].image: Required value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := jobTestJob(tt.mutate)
			if d := cmp.Diff(tt.want, podErrStrings(jobValidate(job))); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestJobValidateSelectorMismatch(t *testing.T) {
	yes := true
	job := jobTestJob(func(j *batchv1.Job) {
		j.Spec.ManualSelector = &yes
		j.Spec.Template.Labels = map[string]string{"app": "pi"}
		j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}}
	})
	want := []string{"spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"pi\"}: `selector` does not match template `labels`"}
	if d := cmp.Diff(want, podErrStrings(jobValidate(job))); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	job.Spec.Selector = nil // as in Kubernetes, a nil selector matches nothing, so both errors
	want = []string{"spec.selector: Required value", want[0]}
	if d := cmp.Diff(want, podErrStrings(jobValidate(job))); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestJobValidateUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*batchv1.Job)
		want   []string // field, type and detail (the value of a whole template is too long to spell)
	}{
		{"suspend and parallelism may change", func(j *batchv1.Job) {
			yes, two := true, int32(2)
			j.Spec.Suspend, j.Spec.Parallelism = &yes, &two
		}, []string{}},
		{"template immutable", func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "perl:5.36" },
			[]string{"spec.template Invalid value field is immutable"}},
		{"completions immutable", func(j *batchv1.Job) { five := int32(5); j.Spec.Completions = &five },
			[]string{"spec.completions Invalid value field is immutable"}},
		{"completion mode immutable", func(j *batchv1.Job) {
			m := batchv1.IndexedCompletion
			j.Spec.CompletionMode = &m
		}, []string{"spec.completionMode Invalid value field is immutable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := jobTestJob(nil)
			job := old.DeepCopy()
			tt.mutate(job)
			jobDefault(job)
			got := []string{}
			for _, e := range jobValidateUpdate(job, old) {
				got = append(got, e.Field+" "+e.Type.String()+" "+e.Detail)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestJobSelectorImmutable(t *testing.T) {
	yes := true
	mk := func(app string) *batchv1.Job {
		return jobTestJob(func(j *batchv1.Job) {
			j.Spec.ManualSelector = &yes
			j.Spec.Template.Labels = map[string]string{"app": "pi", "v": app}
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}
		})
	}
	old, job := mk("pi"), mk("pi")
	job.Spec.Selector.MatchLabels["v"] = "pi"
	errs := jobValidateUpdate(job, old)
	if len(errs) != 1 || errs[0].Field != "spec.selector" || errs[0].Detail != "field is immutable" {
		t.Errorf("errors = %v, want spec.selector immutable", errs)
	}
}

func TestJobStatusAndFields(t *testing.T) {
	job := jobTestJob(nil)
	job.Status = batchv1.JobStatus{Succeeded: 1, Failed: -1}
	want := []string{"status.failed: Invalid value: -1: must be greater than or equal to 0"}
	if d := cmp.Diff(want, podErrStrings(jobValidateStatus(&job.Status))); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	r := podLookup(t, "batch", "jobs")
	if got := r.Fields(job)["status.successful"]; got != "1" {
		t.Errorf("status.successful = %q, want 1", got)
	}
}

func TestJobTableRows(t *testing.T) {
	now := time.Now()
	start := metav1.NewTime(now.Add(-10 * time.Minute))
	done := metav1.NewTime(now.Add(-7 * time.Minute))
	three := int32(3)
	tests := []struct {
		name   string
		mutate func(*batchv1.Job)
		want   []interface{}
	}{
		{"running", func(j *batchv1.Job) { j.Status.StartTime = &start }, []interface{}{"Running", "0/1", "10m"}},
		{"complete", func(j *batchv1.Job) {
			j.Status = batchv1.JobStatus{StartTime: &start, CompletionTime: &done, Succeeded: 1,
				Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}}
		}, []interface{}{"Complete", "1/1", "3m"}},
		{"failed", func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue}}
		}, []interface{}{"Failed", "0/1", ""}},
		{"suspended parallel", func(j *batchv1.Job) {
			j.Spec.Completions, j.Spec.Parallelism = nil, &three
			j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobSuspended, Status: corev1.ConditionTrue}}
		}, []interface{}{"Suspended", "0/1 of 3", ""}},
		{"terminating", func(j *batchv1.Job) { j.DeletionTimestamp = &start }, []interface{}{"Terminating", "0/1", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := jobTestJob(nil)
			job.CreationTimestamp = metav1.NewTime(now.Add(-4 * 24 * time.Hour))
			tt.mutate(job)
			row, err := jobRow(job, now)
			if err != nil {
				t.Fatal(err)
			}
			want := append([]interface{}{"pi"}, tt.want...)
			want = append(want, "4d", "pi", "perl:5.34", batchv1.ControllerUidLabel+"="+jobTestUID)
			if d := cmp.Diff(want, row); d != "" {
				t.Errorf("row (-want +got):\n%s", d)
			}
		})
	}
}
