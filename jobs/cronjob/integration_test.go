package cronjob_test

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/cluster/controller/controllertest"
	"github.com/drover-ci/drover/internal/uptest"
	"github.com/drover-ci/drover/jobs/cronjob"
)

// startController runs the CronJob controller against a real API server on a fake clock
// that starts at the real time (the server stamps creation times with it).
func startController(t testing.TB) (kubernetes.Interface, *testingclock.FakeClock) {
	t.Helper()
	var clk *testingclock.FakeClock
	_, cs := controllertest.Run(t, func(cc controller.Context) (controller.Controller, error) {
		clk = testingclock.NewFakeClock(time.Now())
		cc.Clock = clk
		return cronjob.New(cc)
	})
	return cs, clk
}

func everyMinute(name string, policy batchv1.ConcurrencyPolicy) *batchv1.CronJob {
	return &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.CronJobSpec{
			Schedule:          "* * * * *",
			ConcurrencyPolicy: policy,
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			}}},
		},
	}
}

func jobExists(cs kubernetes.Interface, name string) bool {
	_, err := cs.BatchV1().Jobs("default").Get(context.Background(), name, metav1.GetOptions{})
	return err == nil
}

func TestIntegrationScheduleForbidAndCompletion(t *testing.T) {
	cs, clk := startController(t)
	ctx := context.Background()
	cj, err := cs.BatchV1().CronJobs("default").Create(ctx, everyMinute("tick", batchv1.ForbidConcurrent), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first := cj.CreationTimestamp.Truncate(time.Minute).Add(time.Minute)
	clk.SetTime(first.Add(time.Second))
	name1 := cronjob.JobName("tick", first)
	uptest.Eventually(t, 20*time.Second, "the first job", func() bool { return jobExists(cs, name1) })
	uptest.Eventually(t, 20*time.Second, "status with the active job", func() bool {
		got, err := cs.BatchV1().CronJobs("default").Get(ctx, "tick", metav1.GetOptions{})
		return err == nil && len(got.Status.Active) == 1 && got.Status.LastScheduleTime != nil &&
			got.Status.LastScheduleTime.Time.Equal(first)
	})

	// Forbid: the next minute passes while the first job runs; no second job.
	second := first.Add(time.Minute)
	clk.SetTime(second.Add(time.Second))
	time.Sleep(300 * time.Millisecond)
	if jobExists(cs, cronjob.JobName("tick", second)) {
		t.Fatal("second job created while the first was active under Forbid")
	}

	// The first job completes: the missed run starts, and lastSuccessfulTime is recorded.
	complete(t, cs, name1, second)
	uptest.Eventually(t, 20*time.Second, "the catch-up job", func() bool { return jobExists(cs, cronjob.JobName("tick", second)) })
	uptest.Eventually(t, 20*time.Second, "lastSuccessfulTime", func() bool {
		got, err := cs.BatchV1().CronJobs("default").Get(ctx, "tick", metav1.GetOptions{})
		return err == nil && got.Status.LastSuccessfulTime != nil && len(got.Status.Active) == 1 &&
			got.Status.Active[0].Name == cronjob.JobName("tick", second)
	})
	if _, err := cs.BatchV1().Jobs("default").Get(ctx, cronjob.JobName("tick", second.Add(time.Minute)), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a job for a time not yet reached: %v", err)
	}
}

func TestIntegrationReplace(t *testing.T) {
	cs, clk := startController(t)
	ctx := context.Background()
	cj, err := cs.BatchV1().CronJobs("default").Create(ctx, everyMinute("swap", batchv1.ReplaceConcurrent), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first := cj.CreationTimestamp.Truncate(time.Minute).Add(time.Minute)
	clk.SetTime(first.Add(time.Second))
	uptest.Eventually(t, 20*time.Second, "the first job", func() bool { return jobExists(cs, cronjob.JobName("swap", first)) })
	uptest.Eventually(t, 20*time.Second, "the first job active", func() bool {
		got, err := cs.BatchV1().CronJobs("default").Get(ctx, "swap", metav1.GetOptions{})
		return err == nil && len(got.Status.Active) == 1
	})
	second := first.Add(time.Minute)
	clk.SetTime(second.Add(time.Second))
	uptest.Eventually(t, 20*time.Second, "the second job replacing the first", func() bool {
		return jobExists(cs, cronjob.JobName("swap", second)) && !jobExists(cs, cronjob.JobName("swap", first))
	})
	uptest.Eventually(t, 20*time.Second, "only the second job active", func() bool {
		got, err := cs.BatchV1().CronJobs("default").Get(ctx, "swap", metav1.GetOptions{})
		return err == nil && len(got.Status.Active) == 1 && got.Status.Active[0].Name == cronjob.JobName("swap", second)
	})
}

// complete marks a Job succeeded at time at, as the Job controller would.
func complete(t *testing.T, cs kubernetes.Interface, name string, at time.Time) {
	t.Helper()
	ctx := context.Background()
	j, err := cs.BatchV1().Jobs("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.NewTime(at)
	j.Status.StartTime = &now
	j.Status.CompletionTime = &now
	j.Status.Succeeded = 1
	j.Status.Conditions = []batchv1.JobCondition{
		{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}
	if _, err := cs.BatchV1().Jobs("default").UpdateStatus(ctx, j, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestIntegrationHistoryLimit(t *testing.T) {
	cs, clk := startController(t)
	ctx := context.Background()
	one := int32(1)
	cj := everyMinute("keep", batchv1.AllowConcurrent)
	cj.Spec.SuccessfulJobsHistoryLimit = &one
	cj, err := cs.BatchV1().CronJobs("default").Create(ctx, cj, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first := cj.CreationTimestamp.Truncate(time.Minute).Add(time.Minute)
	second := first.Add(time.Minute)
	clk.SetTime(first.Add(time.Second))
	uptest.Eventually(t, 20*time.Second, "the first job", func() bool { return jobExists(cs, cronjob.JobName("keep", first)) })
	complete(t, cs, cronjob.JobName("keep", first), first.Add(10*time.Second))
	clk.SetTime(second.Add(time.Second))
	uptest.Eventually(t, 20*time.Second, "the second job", func() bool { return jobExists(cs, cronjob.JobName("keep", second)) })
	complete(t, cs, cronjob.JobName("keep", second), second.Add(10*time.Second))
	uptest.Eventually(t, 20*time.Second, "the oldest finished job deleted", func() bool { return !jobExists(cs, cronjob.JobName("keep", first)) })
	if !jobExists(cs, cronjob.JobName("keep", second)) {
		t.Error("the newest finished job was deleted too")
	}
}
