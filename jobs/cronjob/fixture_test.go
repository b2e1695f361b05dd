package cronjob

import (
	"context"
	"os"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"

	"github.com/drover-ci/drover/cluster/controller/controllertest"
)

// t0 is when the test CronJobs were created.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestMain(m *testing.M) {
	time.Local = time.UTC // schedules without a time zone run in the controller's zone
	os.Exit(m.Run())
}

// fixture is a controller over a fake clientset whose informer caches the test fills by hand.
type fixture struct {
	*controllertest.Fixture[*Controller]
}

func newFixture(t *testing.T, now time.Time, objs ...runtime.Object) *fixture {
	t.Helper()
	ff := controllertest.NewFake(now, 1000, objs...)
	ff.Client.PrependReactor("create", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		j := a.(k8stesting.CreateAction).GetObject().(*batchv1.Job)
		j.UID = types.UID("uid-" + j.Name)
		return false, nil, nil
	})
	return &fixture{controllertest.NewFixture[*Controller](t, ff, New, objs...)}
}

// sync runs one sync of cronjob default/name and returns its requeue delay and the writes it made.
func (f *fixture) sync(name string) (time.Duration, []k8stesting.Action) {
	f.T.Helper()
	var after time.Duration
	actions := f.Actions("sync", func(ctx context.Context) (err error) {
		after, err = f.C.sync(ctx, "default/"+name)
		return err
	})
	var writes []k8stesting.Action
	for _, a := range actions {
		if a.GetVerb() != "get" && a.GetVerb() != "list" && a.GetVerb() != "watch" {
			writes = append(writes, a)
		}
	}
	return after, writes
}

// events drains the recorded events.
func (f *fixture) events() []string { return f.Events() }

// created lists the Jobs created by actions.
func created(actions []k8stesting.Action) []*batchv1.Job {
	return controllertest.Created[*batchv1.Job](actions, "jobs")
}

// createdNames lists the names of the Jobs created by actions.
func createdNames(actions []k8stesting.Action) []string {
	var out []string
	for _, j := range created(actions) {
		out = append(out, j.Name)
	}
	return out
}

// deleted lists the Jobs deleted by actions, checking each delete propagates in the background.
func deleted(t *testing.T, actions []k8stesting.Action) []string {
	t.Helper()
	var out []string
	for _, a := range actions {
		if a.GetVerb() == "delete" && a.GetResource().Resource == "jobs" {
			d := a.(k8stesting.DeleteAction)
			if p := d.GetDeleteOptions().PropagationPolicy; p == nil || *p != metav1.DeletePropagationBackground {
				t.Errorf("delete of %s: propagation %v, want Background", d.GetName(), p)
			}
			out = append(out, d.GetName())
		}
	}
	return out
}

// status is the last status the actions wrote, or nil.
func status(actions []k8stesting.Action) *batchv1.CronJobStatus {
	if cj, ok := controllertest.LastStatus[*batchv1.CronJob](actions); ok {
		return &cj.Status
	}
	return nil
}

func testCronJob(name, schedule string, mutate func(*batchv1.CronJob)) *batchv1.CronJob {
	three, one := int32(3), int32(1)
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("cj-" + name),
			CreationTimestamp: metav1.NewTime(t0)},
		Spec: batchv1.CronJobSpec{
			Schedule:                   schedule,
			ConcurrencyPolicy:          batchv1.AllowConcurrent,
			SuccessfulJobsHistoryLimit: &three,
			FailedJobsHistoryLimit:     &one,
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "backup"}},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "c", Image: "busybox"}},
				}}},
			},
		},
	}
	if mutate != nil {
		mutate(cj)
	}
	return cj
}

// ownedJob is a Job of cj for schedule time at; cond, when set, is its finishing condition.
func ownedJob(cj *batchv1.CronJob, at time.Time, cond batchv1.JobConditionType) *batchv1.Job {
	j := jobFor(cj, at)
	j.UID = types.UID("uid-" + j.Name)
	j.CreationTimestamp = metav1.NewTime(at)
	start := metav1.NewTime(at)
	j.Status.StartTime = &start
	if cond != "" {
		done := metav1.NewTime(at.Add(30 * time.Second))
		j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue}}
		if cond == batchv1.JobComplete {
			j.Status.CompletionTime = &done
		}
	}
	return j
}

func lastScheduled(at time.Time) func(*batchv1.CronJob) {
	return func(cj *batchv1.CronJob) { t := metav1.NewTime(at); cj.Status.LastScheduleTime = &t }
}

func minute(t time.Time) string { return JobName("cj", t) }
