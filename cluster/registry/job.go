package registry

import (
	"maps"
	"math"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Unprefixed job labels Kubernetes still sets and selects on, next to batchv1.JobNameLabel and
// batchv1.ControllerUidLabel.
const (
	jobLegacyNameLabel = "job-name"
	jobLegacyUIDLabel  = "controller-uid"
)

// jobResource describes the batch/v1 jobs resource.
func jobResource() *Resource {
	return &Resource{
		Group: "batch", Version: "v1", Resource: "jobs", Kind: "Job", SingularName: "job",
		Categories: []string{"all"}, Namespaced: true, Subresources: []string{"status"}, HasStatus: true,
		New:              func() runtime.Object { return &batchv1.Job{} },
		NewList:          func() runtime.Object { return &batchv1.JobList{} },
		Default:          func(obj runtime.Object) { jobDefault(obj.(*batchv1.Job)) },
		PrepareForCreate: func(obj runtime.Object) { jobPrepareForCreate(obj.(*batchv1.Job)) },
		Validate:         func(obj runtime.Object) field.ErrorList { return jobValidate(obj.(*batchv1.Job)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return jobValidateUpdate(obj.(*batchv1.Job), old.(*batchv1.Job))
		},
		ValidateStatusUpdate: func(obj, _ runtime.Object) field.ErrorList { return jobValidateStatus(&obj.(*batchv1.Job).Status) },
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"status.successful": strconv.Itoa(int(obj.(*batchv1.Job).Status.Succeeded))}
		},
		Table: jobTable(),
	}
}

// jobDefault is Kubernetes' SetDefaults_Job (v1.32, JobPodReplacementPolicy on) plus the pod
// template defaults.
func jobDefault(job *batchv1.Job) {
	spec := &job.Spec
	if spec.Completions == nil && spec.Parallelism == nil {
		spec.Completions = jobInt32(1)
	}
	if spec.Parallelism == nil {
		spec.Parallelism = jobInt32(1)
	}
	if spec.BackoffLimit == nil {
		if spec.BackoffLimitPerIndex != nil {
			spec.BackoffLimit = jobInt32(math.MaxInt32)
		} else {
			spec.BackoffLimit = jobInt32(6)
		}
	}
	if job.Spec.Template.Labels != nil && len(job.Labels) == 0 {
		job.Labels = maps.Clone(job.Spec.Template.Labels)
	}
	if spec.CompletionMode == nil {
		m := batchv1.NonIndexedCompletion
		spec.CompletionMode = &m
	}
	if spec.Suspend == nil {
		no := false
		spec.Suspend = &no
	}
	if spec.PodFailurePolicy != nil {
		for _, rule := range spec.PodFailurePolicy.Rules {
			for i := range rule.OnPodConditions {
				if rule.OnPodConditions[i].Status == "" {
					rule.OnPodConditions[i].Status = corev1.ConditionTrue
				}
			}
		}
	}
	if spec.PodReplacementPolicy == nil {
		p := batchv1.TerminatingOrFailed
		if spec.PodFailurePolicy != nil {
			p = batchv1.Failed
		}
		spec.PodReplacementPolicy = &p
	}
	podSpecDefault(&spec.Template.Spec)
}

func jobInt32(v int32) *int32 { return &v }

// jobPrepareForCreate clears the status and, unless manualSelector is true, generates the
// selector from the job's uid (the server sets the uid first) the way Kubernetes'
// generateSelector does. Job labels still empty take the template labels, generated ones
// included, as Kubernetes clients observe them.
func jobPrepareForCreate(job *batchv1.Job) {
	job.Status = batchv1.JobStatus{}
	if job.Spec.ManualSelector != nil && *job.Spec.ManualSelector {
		return
	}
	t := &job.Spec.Template
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	uid := string(job.UID)
	for key, value := range map[string]string{
		jobLegacyNameLabel: job.Name, batchv1.JobNameLabel: job.Name,
		jobLegacyUIDLabel: uid, batchv1.ControllerUidLabel: uid,
	} {
		if _, ok := t.Labels[key]; !ok {
			t.Labels[key] = value
		}
	}
	if job.Spec.Selector == nil {
		job.Spec.Selector = &metav1.LabelSelector{}
	}
	if job.Spec.Selector.MatchLabels == nil {
		job.Spec.Selector.MatchLabels = map[string]string{}
	}
	if _, ok := job.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel]; !ok {
		job.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel] = uid
	}
	if len(job.Labels) == 0 {
		job.Labels = maps.Clone(t.Labels)
	}
}
