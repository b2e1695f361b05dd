package cronjob

import (
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ScheduledTimestampAnnotation is set on every Job a CronJob creates: its schedule time in RFC 3339.
const ScheduledTimestampAnnotation = batchv1.CronJobScheduledTimestampAnnotation

// JobName is the name of the Job a CronJob runs for schedule time t: the CronJob's name and
// the minutes since the epoch, so that the same schedule time always gives the same name.
func JobName(cronJob string, t time.Time) string {
	return fmt.Sprintf("%s-%d", cronJob, t.Unix()/60)
}

// jobFor builds the Job of cj for schedule time t from the job template.
func jobFor(cj *batchv1.CronJob, t time.Time) *batchv1.Job {
	tmpl := cj.Spec.JobTemplate
	labels := make(map[string]string, len(tmpl.Labels))
	for k, v := range tmpl.Labels {
		labels[k] = v
	}
	annotations := make(map[string]string, len(tmpl.Annotations)+1)
	for k, v := range tmpl.Annotations {
		annotations[k] = v
	}
	annotations[ScheduledTimestampAnnotation] = t.Format(time.RFC3339)
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:            JobName(cj.Name, t),
			Namespace:       cj.Namespace,
			Labels:          labels,
			Annotations:     annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cj, cronJobKind)},
		},
		Spec: *tmpl.Spec.DeepCopy(),
	}
}

// finished says whether a Job has a Complete or Failed condition that is True, and which.
func finished(j *batchv1.Job) (done bool, cond batchv1.JobConditionType) {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true, c.Type
		}
	}
	return false, ""
}

// jobRef is the object reference kept in status.active.
func jobRef(j *batchv1.Job) corev1.ObjectReference {
	return corev1.ObjectReference{
		Kind:            "Job",
		APIVersion:      batchv1.SchemeGroupVersion.String(),
		Namespace:       j.Namespace,
		Name:            j.Name,
		UID:             j.UID,
		ResourceVersion: j.ResourceVersion,
	}
}
