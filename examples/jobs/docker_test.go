package jobs_test

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/internal/uptest"
)

// TestJobsOnDocker runs Jobs with `drover up` on a real Docker engine: completions 3 with
// parallelism 2 succeeds with 3 pods, never more than 2 active at once; a pod that exits 1
// with backoffLimit 1 makes its Job fail with reason BackoffLimitExceeded; a pod that runs past
// activeDeadlineSeconds makes its Job fail with reason DeadlineExceeded.
func TestJobsOnDocker(t *testing.T) {
	cs := dockerEnv(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{ResourceVersion: pods.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	parallel, err := cs.BatchV1().Jobs("default").Create(ctx, exitJob("three", 3, 2, 6, "0", "1"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seen := watchPods(t, w, parallel.UID, func(pc *podCount) bool { return pc.succeeded == 3 })
	t.Logf("job three: pods %v, at most %d active at once", seen.phases, seen.maxActive)
	if seen.maxActive != 2 {
		t.Errorf("at most %d pods active at once, want 2 (parallelism 2)", seen.maxActive)
	}
	if len(seen.phases) != 3 {
		t.Errorf("%d pods created, want 3: %v", len(seen.phases), seen.phases)
	}
	j := waitJobCondition(ctx, t, cs, "three", batchv1.JobComplete)
	if j.Status.Succeeded != 3 || j.Status.Failed != 0 || j.Status.CompletionTime == nil {
		t.Errorf("job three status: %+v", j.Status)
	}

	failing, err := cs.BatchV1().Jobs("default").Create(ctx, exitJob("fails", 1, 1, 1, "1", "0"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	j = waitJobCondition(ctx, t, cs, "fails", batchv1.JobFailed)
	if c := condition(j, batchv1.JobFailed); c.Reason != "BackoffLimitExceeded" {
		t.Errorf("job fails: Failed condition reason %q (%s), want BackoffLimitExceeded", c.Reason, c.Message)
	}
	if j.Status.Failed != 2 || j.Status.Succeeded != 0 || j.Status.Active != 0 {
		t.Errorf("job fails: failed %d succeeded %d active %d, want 2 0 0 (backoffLimit 1)", j.Status.Failed, j.Status.Succeeded, j.Status.Active)
	}
	checkNoLivePods(ctx, t, cs, failing.UID)

	long := exitJob("long", 1, 1, 6, "0", "inf")
	deadline := int64(3)
	long.Spec.ActiveDeadlineSeconds = &deadline
	if long, err = cs.BatchV1().Jobs("default").Create(ctx, long, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	j = waitJobCondition(ctx, t, cs, "long", batchv1.JobFailed)
	c := condition(j, batchv1.JobFailed)
	if c.Reason != "DeadlineExceeded" {
		t.Errorf("job long: Failed condition reason %q (%s), want DeadlineExceeded", c.Reason, c.Message)
	}
	if j.Status.StartTime == nil {
		t.Errorf("job long has no startTime: %+v", j.Status)
	} else if took := c.LastTransitionTime.Sub(j.Status.StartTime.Time); took < 2*time.Second || took > 30*time.Second {
		t.Errorf("job long failed %s after its start, want about its 3s deadline", took)
	}
	checkNoLivePods(ctx, t, cs, long.UID)
}

// checkNoLivePods fails unless every pod of a failed Job has finished or is being deleted.
func checkNoLivePods(ctx context.Context, t *testing.T, cs kubernetes.Interface, uid types.UID) {
	t.Helper()
	pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if ownedBy(&p, uid) && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp == nil {
			t.Errorf("pod %s of a failed job is %s", p.Name, p.Status.Phase)
		}
	}
}

// exitJob is a Job of drover/exit:1 pods that sleep and exit with code.
func exitJob(name string, completions, parallelism, backoffLimit int32, code, sleep string) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.JobSpec{
			Completions:  &completions,
			Parallelism:  &parallelism,
			BackoffLimit: &backoffLimit,
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{
					Name: "exit", Image: "drover/exit:1", ImagePullPolicy: corev1.PullNever,
					Env: []corev1.EnvVar{{Name: "SLEEP", Value: sleep}, {Name: "EXIT_CODE", Value: code}},
				}},
			}},
		},
	}
}

// podCount follows the pods of one Job through a watch.
type podCount struct {
	phases    map[string]corev1.PodPhase // by pod name, the last phase seen
	active    map[string]bool
	maxActive int
	succeeded int
}

// watchPods reads pod events of the Job with uid until done says so, counting active pods
// (not finished, not being deleted) at every event.
func watchPods(t *testing.T, w watch.Interface, uid types.UID, done func(*podCount) bool) *podCount {
	t.Helper()
	pc := &podCount{phases: map[string]corev1.PodPhase{}, active: map[string]bool{}}
	timeout := time.After(3 * time.Minute)
	for !done(pc) {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("pod watch closed; seen %v", pc.phases)
			}
			p, isPod := ev.Object.(*corev1.Pod)
			if !isPod || !ownedBy(p, uid) {
				continue
			}
			pc.observe(p, ev.Type == watch.Deleted)
		case <-timeout:
			t.Fatalf("timed out waiting for the pods; seen %v", pc.phases)
		}
	}
	return pc
}

func (pc *podCount) observe(p *corev1.Pod, deleted bool) {
	pc.phases[p.Name] = p.Status.Phase
	finished := p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
	pc.active[p.Name] = !finished && !deleted && p.DeletionTimestamp == nil
	n, s := 0, 0
	for name, a := range pc.active {
		if a {
			n++
		}
		if pc.phases[name] == corev1.PodSucceeded {
			s++
		}
	}
	pc.maxActive = max(pc.maxActive, n)
	pc.succeeded = s
}

func ownedBy(p *corev1.Pod, uid types.UID) bool {
	for _, r := range p.OwnerReferences {
		if r.UID == uid {
			return true
		}
	}
	return false
}

func condition(j *batchv1.Job, ct batchv1.JobConditionType) batchv1.JobCondition {
	for _, c := range j.Status.Conditions {
		if c.Type == ct && c.Status == corev1.ConditionTrue {
			return c
		}
	}
	return batchv1.JobCondition{}
}

// waitJobCondition polls the Job until condition ct is True; another finished condition fails.
func waitJobCondition(ctx context.Context, t *testing.T, cs kubernetes.Interface, name string, ct batchv1.JobConditionType) *batchv1.Job {
	t.Helper()
	for {
		j, err := cs.BatchV1().Jobs("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get job %s: %v", name, err)
		}
		if condition(j, ct).Type == ct {
			return j
		}
		for _, other := range []batchv1.JobConditionType{batchv1.JobComplete, batchv1.JobFailed} {
			if c := condition(j, other); other != ct && c.Type == other {
				t.Fatalf("job %s: %s (%s: %s), want %s", name, other, c.Reason, c.Message, ct)
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("job %s never %s: %+v", name, ct, j.Status)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// dockerEnv runs `drover up` on its own network, service range, DNS address and NodePort range
// (so it meets no other drover on this host) and returns a clientset.
func dockerEnv(t *testing.T) kubernetes.Interface {
	t.Helper()
	return uptest.Start(t, uptest.Options{Name: "jobs", Subnet: "10.92.0.0/16", ServiceCIDR: "10.99.0.0/16",
		ClusterDNS: "10.100.0.10", NodePortRange: "32000-32199", Images: []string{"drover/exit:1"}}).Client
}
