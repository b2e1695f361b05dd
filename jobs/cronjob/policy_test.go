package cronjob

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// withRunning is a cronjob of policy p whose 03:00 job is still running at 04:00:10.
func withRunning(p batchv1.ConcurrencyPolicy) (*batchv1.CronJob, *batchv1.Job) {
	cj := testCronJob("cj", "0 * * * *", func(cj *batchv1.CronJob) {
		cj.Spec.ConcurrencyPolicy = p
		lastScheduled(at(3, 0))(cj)
	})
	j := ownedJob(cj, at(3, 0), "")
	cj.Status.Active = []corev1.ObjectReference{jobRef(j)}
	return cj, j
}

func activeNames(st *batchv1.CronJobStatus) []string {
	var out []string
	for _, r := range st.Active {
		out = append(out, r.Name)
	}
	return out
}

func TestForbidSkipsWhileAJobIsActive(t *testing.T) {
	cj, j := withRunning(batchv1.ForbidConcurrent)
	f := newFixture(t, at(4, 0).Add(10*time.Second), cj, j)
	_, actions := f.sync("cj")
	if len(actions) != 0 {
		t.Fatalf("actions %v, want none", actions)
	}
	if ev := f.events(); len(ev) != 1 || !strings.HasPrefix(ev[0], "Normal JobAlreadyActive") {
		t.Errorf("events %q, want JobAlreadyActive", ev)
	}
	// When the job finishes, the missed run starts.
	done := ownedJob(cj, at(3, 0), batchv1.JobComplete)
	f.Put(done)
	f.Clock.SetTime(at(4, 5))
	_, actions = f.sync("cj")
	if diff := cmp.Diff([]string{minute(at(4, 0))}, createdNames(actions)); diff != "" {
		t.Errorf("after finish, created (-want +got):\n%s", diff)
	}
}

func TestAllowRunsAlongside(t *testing.T) {
	cj, j := withRunning(batchv1.AllowConcurrent)
	f := newFixture(t, at(4, 0).Add(10*time.Second), cj, j)
	_, actions := f.sync("cj")
	if diff := cmp.Diff([]string{minute(at(4, 0))}, createdNames(actions)); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{minute(at(3, 0)), minute(at(4, 0))}, activeNames(status(actions))); diff != "" {
		t.Errorf("active (-want +got):\n%s", diff)
	}
}

func TestReplaceDeletesActiveThenCreates(t *testing.T) {
	cj, j := withRunning(batchv1.ReplaceConcurrent)
	f := newFixture(t, at(4, 0).Add(10*time.Second), cj, j)
	_, actions := f.sync("cj")
	if diff := cmp.Diff([]string{minute(at(3, 0))}, deleted(t, actions)); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{minute(at(4, 0))}, createdNames(actions)); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	var del, cre int
	for i, a := range actions {
		switch a.GetVerb() {
		case "delete":
			del = i
		case "create":
			cre = i
		}
	}
	if del > cre {
		t.Errorf("create (action %d) before delete (action %d)", cre, del)
	}
	if diff := cmp.Diff([]string{minute(at(4, 0))}, activeNames(status(actions))); diff != "" {
		t.Errorf("active (-want +got):\n%s", diff)
	}
}

func TestSuspendCreatesNothing(t *testing.T) {
	cj := testCronJob("cj", "* * * * *", func(cj *batchv1.CronJob) { cj.Spec.Suspend = ptr(true) })
	f := newFixture(t, at(4, 0), cj)
	after, actions := f.sync("cj")
	if len(actions) != 0 || after != 0 {
		t.Errorf("actions %v, requeue %v; want none", actions, after)
	}
}

func TestFinishedJobLeavesActiveAndSetsLastSuccessful(t *testing.T) {
	cj, _ := withRunning(batchv1.ForbidConcurrent)
	done := ownedJob(cj, at(3, 0), batchv1.JobComplete)
	f := newFixture(t, at(3, 30), cj, done)
	_, actions := f.sync("cj")
	st := status(actions)
	if st == nil || len(st.Active) != 0 || st.LastSuccessfulTime == nil || !st.LastSuccessfulTime.Equal(done.Status.CompletionTime) {
		t.Errorf("status %+v, want no active and lastSuccessfulTime %v", st, done.Status.CompletionTime)
	}
}

func TestMissingActiveJobIsDropped(t *testing.T) {
	cj, _ := withRunning(batchv1.ForbidConcurrent) // its job exists neither in the cache nor the API
	f := newFixture(t, at(3, 30), cj)
	_, actions := f.sync("cj")
	if st := status(actions); st == nil || len(st.Active) != 0 {
		t.Errorf("status %+v, want the missing job dropped", st)
	}
}

func TestLaggingCacheKeepsActiveJob(t *testing.T) {
	cj, j := withRunning(batchv1.ForbidConcurrent)
	f := newFixture(t, at(3, 30), cj)
	if _, err := f.Client.Tracker().Get(jobsGVR, "default", j.Name); err == nil {
		t.Fatal("job unexpectedly in the API")
	}
	if err := f.Client.Tracker().Add(j); err != nil { // in the API, not yet in the cache
		t.Fatal(err)
	}
	_, actions := f.sync("cj")
	if st := status(actions); st != nil {
		t.Errorf("status written %+v, want active kept", st)
	}
}
