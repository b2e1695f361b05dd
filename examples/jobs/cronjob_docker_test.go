package jobs_test

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestCronJobOnDocker runs a CronJob scheduled every minute with `drover up` on a real Docker
// engine. Each Job runs for 65 s, longer than the schedule's period: concurrencyPolicy Forbid
// must never let two of its Jobs be active at once (the minute that falls during a run is
// caught up once the run finishes), and successfulJobsHistoryLimit 1 must leave only the newest
// finished Job once a second one has succeeded. It takes about three minutes.
func TestCronJobOnDocker(t *testing.T) {
	cs := dockerEnv(t)
	ctx, cancel := context.WithTimeout(t.Context(), 6*time.Minute)
	defer cancel()
	one := int32(1)
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "tick"},
		Spec: batchv1.CronJobSpec{
			Schedule:                   "* * * * *",
			ConcurrencyPolicy:          batchv1.ForbidConcurrent,
			SuccessfulJobsHistoryLimit: &one,
			FailedJobsHistoryLimit:     &one,
			JobTemplate:                batchv1.JobTemplateSpec{Spec: exitJob("", 1, 1, 0, "0", "65").Spec},
		},
	}
	created, err := cs.BatchV1().CronJobs("default").Create(ctx, cj, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	succeeded := map[string]bool{}
	maxActive := 0
	for {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out: jobs that succeeded %v, at most %d active at once", succeeded, maxActive)
		case <-time.After(time.Second):
		}
		jobs, err := cs.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			continue
		}
		active, finished := 0, 0
		for _, j := range jobs.Items {
			if !ownedByUID(j.OwnerReferences, created.UID) {
				continue
			}
			switch {
			case condition(&j, batchv1.JobComplete).Status == corev1.ConditionTrue:
				succeeded[j.Name] = true
				finished++
			case condition(&j, batchv1.JobFailed).Status == corev1.ConditionTrue:
				finished++
			default:
				active++
			}
		}
		if active > maxActive {
			maxActive = active
		}
		if maxActive > 1 {
			t.Fatalf("%d jobs of a Forbid CronJob active at once", maxActive)
		}
		if len(succeeded) >= 2 && finished <= 1 {
			t.Logf("jobs that succeeded: %v; %d finished job kept (history limit 1)", succeeded, finished)
			break
		}
	}
	cur, err := cs.BatchV1().CronJobs("default").Get(ctx, "tick", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cur.Status.LastScheduleTime == nil || cur.Status.LastSuccessfulTime == nil {
		t.Errorf("cronjob status lacks lastScheduleTime/lastSuccessfulTime: %+v", cur.Status)
	}
	_ = cs.BatchV1().CronJobs("default").Delete(context.Background(), "tick", metav1.DeleteOptions{})
}

func ownedByUID(refs []metav1.OwnerReference, uid types.UID) bool {
	for _, r := range refs {
		if r.UID == uid {
			return true
		}
	}
	return false
}
