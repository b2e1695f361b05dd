package cronjob

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var jobsGVR = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}

func TestHistoryLimitsDeleteTheOldest(t *testing.T) {
	cj := testCronJob("cj", "0 * * * *", func(cj *batchv1.CronJob) {
		cj.Spec.SuccessfulJobsHistoryLimit, cj.Spec.FailedJobsHistoryLimit = ptr(int32(2)), ptr(int32(1))
		lastScheduled(at(9, 0))(cj)
	})
	objs := []runtime.Object{cj}
	for h := 1; h <= 5; h++ {
		objs = append(objs, ownedJob(cj, at(h, 0), batchv1.JobComplete))
	}
	for h := 6; h <= 8; h++ {
		objs = append(objs, ownedJob(cj, at(h, 0), batchv1.JobFailed))
	}
	objs = append(objs, ownedJob(cj, at(9, 0), "")) // running: never deleted
	f := newFixture(t, at(9, 30), objs...)
	_, actions := f.sync("cj")
	want := []string{minute(at(1, 0)), minute(at(2, 0)), minute(at(3, 0)), minute(at(6, 0)), minute(at(7, 0))}
	if diff := cmp.Diff(want, deleted(t, actions)); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	st := status(actions)
	if st == nil || !st.LastSuccessfulTime.Time.Equal(at(5, 0).Add(30*time.Second)) {
		t.Errorf("status %+v, want lastSuccessfulTime 05:00:30", st)
	}
}

func TestNilHistoryLimitKeepsAll(t *testing.T) {
	cj := testCronJob("cj", "0 * * * *", func(cj *batchv1.CronJob) {
		cj.Spec.SuccessfulJobsHistoryLimit = nil
		lastScheduled(at(5, 0))(cj)
	})
	objs := []runtime.Object{cj}
	for h := 1; h <= 5; h++ {
		objs = append(objs, ownedJob(cj, at(h, 0), batchv1.JobComplete))
	}
	f := newFixture(t, at(5, 30), objs...)
	_, actions := f.sync("cj")
	if d := deleted(t, actions); len(d) != 0 {
		t.Errorf("deleted %v, want none", d)
	}
}

func TestJobNamesAreDeterministic(t *testing.T) {
	if got, want := JobName("backup", at(3, 5)), JobName("backup", at(3, 5).Add(59*time.Second)); got != want {
		t.Errorf("names within one minute differ: %s %s", got, want)
	}
	if got := JobName("backup", time.Unix(60*29455200, 0)); got != "backup-29455200" {
		t.Errorf("JobName = %s", got)
	}
}

// A restarted controller whose status write was lost finds the Job already there and
// records it instead of creating another.
func TestRestartNeverDuplicates(t *testing.T) {
	cj := testCronJob("cj", "*/5 * * * *", nil)
	existing := ownedJob(cj, at(3, 5), "")
	f := newFixture(t, at(3, 6), cj)
	if err := f.Client.Tracker().Add(existing); err != nil { // in the API, not in the cache
		t.Fatal(err)
	}
	_, actions := f.sync("cj")
	st := status(actions)
	if st == nil || !st.LastScheduleTime.Time.Equal(at(3, 5)) || len(st.Active) != 1 || st.Active[0].UID != existing.UID {
		t.Errorf("status %+v, want the existing job recorded", st)
	}
	list, err := f.Client.BatchV1().Jobs("default").List(context.Background(), metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 {
		t.Errorf("jobs %v (%v), want exactly one", list, err)
	}
}
