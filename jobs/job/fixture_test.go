package job

import (
	"context"
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

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fixture is the controller over a fake clientset whose informer caches the test fills by hand.
type fixture struct {
	*controllertest.Fixture[*Controller]
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	ff := controllertest.NewFake(t0, 100, objs...)
	ff.NamePods()
	return &fixture{controllertest.NewFixture[*Controller](t, ff, New, objs...)}
}

// sync runs one sync of default/<name> and returns the actions it issued.
func (f *fixture) sync(name string) []k8stesting.Action {
	f.T.Helper()
	return f.Actions("sync "+name, func(ctx context.Context) error { return f.C.sync(ctx, "default/"+name) })
}

func created(actions []k8stesting.Action) []*corev1.Pod {
	return controllertest.Created[*corev1.Pod](actions, "pods")
}

func deleted(actions []k8stesting.Action, resource string) []string {
	return controllertest.Deleted(actions, resource)
}

// statusOf is the status the sync wrote, or nil.
func statusOf(actions []k8stesting.Action) *batchv1.JobStatus {
	if j, ok := controllertest.LastStatus[*batchv1.Job](actions); ok {
		return &j.Status
	}
	return nil
}

func newJob(name string, completions, parallelism int32) *batchv1.Job {
	backoff := int32(6)
	uid := types.UID("uid-" + name)
	labels := map[string]string{batchv1.ControllerUidLabel: string(uid), batchv1.JobNameLabel: name}
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: uid},
		Spec: batchv1.JobSpec{
			Completions: &completions, Parallelism: &parallelism, BackoffLimit: &backoff,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: string(uid)}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
	}
}

// podOf is a pod of job in phase; a finished pod's container ended at finished.
func podOf(job *batchv1.Job, name string, phase corev1.PodPhase, finished time.Time) *corev1.Pod {
	p := podForJob(job, -1)
	p.Name, p.UID, p.GenerateName = name, types.UID(name), ""
	p.CreationTimestamp = metav1.NewTime(t0.Add(-time.Hour))
	p.Status.Phase = phase
	if phase == corev1.PodSucceeded || phase == corev1.PodFailed {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(finished)}}}}
	}
	return p
}

func cond(st *batchv1.JobStatus, t batchv1.JobConditionType) *batchv1.JobCondition {
	if st == nil {
		return nil
	}
	return condition(st, t)
}

// failing is the FailureTarget condition of a job that fails while pods of it still run, after
// checking it has no Failed condition yet: Kubernetes 1.32 adds Failed once they are gone.
func failing(t *testing.T, st *batchv1.JobStatus) *batchv1.JobCondition {
	t.Helper()
	if c := cond(st, batchv1.JobFailed); c != nil {
		t.Errorf("Failed %+v while pods still run, want FailureTarget first", c)
	}
	return cond(st, batchv1.JobFailureTarget)
}
