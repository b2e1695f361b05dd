package job_test

import (
	"context"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/controller/controllertest"
	"github.com/drover-ci/drover/jobs/job"
)

// startController runs the job controller against a real API server until the test ends.
func startController(t *testing.T) kubernetes.Interface {
	t.Helper()
	_, cs := controllertest.Run(t, job.New)
	return cs
}

// fakeKubelet runs every new pod for runFor, then ends it in phase end.
func fakeKubelet(ctx context.Context, t *testing.T, cs kubernetes.Interface, end corev1.PodPhase, runFor time.Duration) {
	started := map[string]time.Time{}
	for ctx.Err() == nil {
		time.Sleep(30 * time.Millisecond)
		list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			continue
		}
		for _, p := range list.Items {
			switch {
			case p.DeletionTimestamp != nil:
			case p.Status.Phase == "" || p.Status.Phase == corev1.PodPending:
				p.Status.Phase = corev1.PodRunning
				started[p.Name] = time.Now()
			case p.Status.Phase == corev1.PodRunning && time.Since(started[p.Name]) > runFor:
				p.Status.Phase = end
				p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{
					Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.Now()}}}}
			default:
				continue
			}
			if _, err := cs.CoreV1().Pods("default").UpdateStatus(ctx, &p, metav1.UpdateOptions{}); err != nil && ctx.Err() == nil {
				t.Logf("kubelet: %v", err)
			}
		}
	}
}

// maxRunning watches the namespace's pods and records the most ever not finished at once.
func maxRunning(ctx context.Context, t *testing.T, cs kubernetes.Interface) func() int {
	w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	highest := 0
	go func() {
		defer w.Stop()
		live := map[string]bool{}
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			finished := p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
			live[p.Name] = ev.Type != watch.Deleted && !finished && p.DeletionTimestamp == nil
			n := 0
			for _, l := range live {
				if l {
					n++
				}
			}
			mu.Lock()
			highest = max(highest, n)
			mu.Unlock()
		}
	}()
	return func() int { mu.Lock(); defer mu.Unlock(); return highest }
}

func TestIntegrationCompletionsWithParallelism(t *testing.T) {
	cs := startController(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	highest := maxRunning(ctx, t, cs)
	go fakeKubelet(ctx, t, cs, corev1.PodSucceeded, 200*time.Millisecond)
	three, two := int32(3), int32(2)
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "work"}, Spec: batchv1.JobSpec{
		Completions: &three, Parallelism: &two,
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}},
	}}
	if _, err := cs.BatchV1().Jobs("default").Create(ctx, j, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, c := waitFinished(ctx, t, cs, "work")
	if c.Type != batchv1.JobComplete || got.Status.Succeeded != 3 || got.Status.Active != 0 || got.Status.CompletionTime == nil {
		t.Errorf("condition %+v, status = %+v", c, got.Status)
	}
	time.Sleep(300 * time.Millisecond) // nothing more should start
	pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "job-name=work"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 3 {
		t.Errorf("%d pods, want 3 (finished pods kept)", len(pods.Items))
	}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodSucceeded {
			t.Errorf("pod %s phase %s", p.Name, p.Status.Phase)
		}
	}
	if h := highest(); h != 2 {
		t.Errorf("at most %d pods ran at once, want exactly 2 (parallelism)", h)
	}
}

// waitFinished waits for the job's Complete or Failed condition.
func waitFinished(ctx context.Context, t *testing.T, cs kubernetes.Interface, name string) (*batchv1.Job, batchv1.JobCondition) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := cs.BatchV1().Jobs("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range got.Status.Conditions {
			if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
				return got, c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s not finished: %+v", name, got.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func simpleJob(name string) *batchv1.Job {
	return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: batchv1.JobSpec{
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}},
	}}
}

func TestIntegrationBackoffLimitExceeded(t *testing.T) {
	cs := startController(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go fakeKubelet(ctx, t, cs, corev1.PodFailed, 100*time.Millisecond)
	j := simpleJob("fails")
	zero := int32(0)
	j.Spec.BackoffLimit = &zero
	if _, err := cs.BatchV1().Jobs("default").Create(ctx, j, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, c := waitFinished(ctx, t, cs, "fails")
	if c.Type != batchv1.JobFailed || c.Reason != batchv1.JobReasonBackoffLimitExceeded || got.Status.Failed != 1 {
		t.Errorf("condition %+v, status %+v", c, got.Status)
	}
}

func TestIntegrationDeadlineExceeded(t *testing.T) {
	cs := startController(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go fakeKubelet(ctx, t, cs, corev1.PodSucceeded, time.Hour)
	j := simpleJob("slow")
	one := int64(1)
	j.Spec.ActiveDeadlineSeconds = &one
	if _, err := cs.BatchV1().Jobs("default").Create(ctx, j, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, c := waitFinished(ctx, t, cs, "slow")
	if c.Type != batchv1.JobFailed || c.Reason != batchv1.JobReasonDeadlineExceeded {
		t.Errorf("condition %+v, want Failed DeadlineExceeded", c)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "job-name=slow"})
		if err != nil {
			t.Fatal(err)
		}
		running := 0
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
				running++
			}
		}
		if running == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pods still running after the deadline", running)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestIntegrationTTLDeletesJobAndPods(t *testing.T) {
	cs := startController(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go fakeKubelet(ctx, t, cs, corev1.PodSucceeded, 50*time.Millisecond)
	j := simpleJob("short")
	zero := int32(0)
	j.Spec.TTLSecondsAfterFinished = &zero
	if _, err := cs.BatchV1().Jobs("default").Create(ctx, j, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := cs.BatchV1().Jobs("default").Get(ctx, "short", metav1.GetOptions{})
		pods, lerr := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "job-name=short"})
		if lerr != nil {
			t.Fatal(lerr)
		}
		if apierrors.IsNotFound(err) && len(pods.Items) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job still there (get: %v) or %d pods left", err, len(pods.Items))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
