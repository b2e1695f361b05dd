package job_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/container/hollow"
	"github.com/drover-ci/drover/cluster/controller/controllertest"
	"github.com/drover-ci/drover/cluster/nodeagent"
	"github.com/drover-ci/drover/internal/logtest"
	"github.com/drover-ci/drover/internal/uptest"
	"github.com/drover-ci/drover/jobs/job"
)

// TestHollowOnFailureBackoffLimitNoReplacement is issue 16's reproduction: four Jobs whose pod
// runs `exit 1` with restartPolicy OnFailure and backoffLimit 1, on a node agent over the hollow
// runtime, twenty rounds. When a Job reaches BackoffLimitExceeded its pod is deleted; the
// controller must not take the terminating pod for a gone one and create a replacement (which
// then crash-loops forever under a Failed Job). Each Job creates exactly one pod, and once it
// is Failed its pods go and status.terminating returns to 0.
func TestHollowOnFailureBackoffLimitNoReplacement(t *testing.T) {
	_, cs := controllertest.Run(t, job.New)
	const node = "hollow-jobs"
	rt := hollow.New(hollow.Options{Scripts: map[string]hollow.Script{"busybox": {Exit: true, ExitCode: 1}}})
	agent, err := nodeagent.New(nodeagent.Config{NodeName: node, Client: cs, Runtime: rt, Probes: rt.Prober(),
		NodeIP: "127.0.0.1", Relist: 50 * time.Millisecond, Logger: logtest.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agent.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	created := podsCreatedPerJob(t, cs)
	for round := range 20 {
		names := make([]string, 4)
		for i := range names {
			names[i] = fmt.Sprintf("fail-%d-%d", round, i)
			one := int32(1)
			j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: names[i]}, Spec: batchv1.JobSpec{BackoffLimit: &one,
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{NodeName: node, RestartPolicy: corev1.RestartPolicyOnFailure,
					Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"sh", "-c", "exit 1"}}}}},
			}}
			if _, err := cs.BatchV1().Jobs("default").Create(t.Context(), j, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		for _, name := range names {
			_, c := waitFinished(t.Context(), t, cs, name)
			if c.Type != batchv1.JobFailed || c.Reason != batchv1.JobReasonBackoffLimitExceeded {
				t.Fatalf("round %d: job %s: condition %+v, want Failed BackoffLimitExceeded", round, name, c)
			}
		}
		for _, name := range names {
			var last string
			t.Cleanup(func() {
				if t.Failed() && last != "" {
					t.Log(last)
				}
			})
			uptest.Eventually(t, 30*time.Second, fmt.Sprintf("round %d: job %s's pods gone and status.terminating 0", round, name), func() bool {
				j, err := cs.BatchV1().Jobs("default").Get(t.Context(), name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				pods, err := cs.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{LabelSelector: "job-name=" + name})
				if err != nil {
					t.Fatal(err)
				}
				if n := created(name); n != 1 {
					t.Fatalf("round %d: job %s created %d pods, want 1 (a replacement after BackoffLimitExceeded); status %+v", round, name, n, j.Status)
				}
				last = fmt.Sprintf("job %s: %d pods left, status %+v", name, len(pods.Items), j.Status)
				return len(pods.Items) == 0 && j.Status.Terminating != nil && *j.Status.Terminating == 0 && j.Status.Active == 0
			})
		}
	}
}

// podsCreatedPerJob counts the pods ever created per job-name label, from a watch.
func podsCreatedPerJob(t *testing.T, cs kubernetes.Interface) func(job string) int {
	w, err := cs.CoreV1().Pods("default").Watch(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	var mu sync.Mutex
	seen := map[string]map[string]bool{}
	go func() {
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || ev.Type != watch.Added {
				continue
			}
			mu.Lock()
			j := p.Labels[batchv1.JobNameLabel]
			if seen[j] == nil {
				seen[j] = map[string]bool{}
			}
			seen[j][p.Name] = true
			mu.Unlock()
		}
	}()
	return func(job string) int { mu.Lock(); defer mu.Unlock(); return len(seen[job]) }
}
