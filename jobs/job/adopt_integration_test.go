package job_test

import (
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/internal/uptest"
)

// TestIntegrationAdoptsOrphansAndReleases follows upstream conformance "should adopt matching
// orphans and release non-matching pods": a pod of the job whose ownerReferences are removed is
// adopted back (it still matches the selector), and a pod whose labels no longer match is
// released.
func TestIntegrationAdoptsOrphansAndReleases(t *testing.T) {
	cs := startController(t)
	ctx := t.Context()
	two := int32(2)
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "adopt"}, Spec: batchv1.JobSpec{
		Parallelism: &two, Completions: ptr(int32(4)),
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}},
	}}
	job, err := cs.BatchV1().Jobs("default").Create(ctx, j, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods := cs.CoreV1().Pods("default")
	var first corev1.Pod
	uptest.Eventually(t, 10*time.Second, "the job's pods", func() bool {
		list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "job-name=adopt"})
		if err != nil || len(list.Items) < 2 {
			return false
		}
		first = list.Items[0]
		return true
	})
	controlledByJob := func(p *corev1.Pod) bool {
		ref := metav1.GetControllerOf(p)
		return ref != nil && ref.UID == job.UID && ref.Kind == "Job"
	}

	// Orphan it: the job adopts it back.
	first.OwnerReferences = nil
	if _, err := pods.Update(ctx, &first, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 10*time.Second, "the orphan adopted by the job", func() bool {
		p, err := pods.Get(ctx, first.Name, metav1.GetOptions{})
		return err == nil && controlledByJob(p)
	})

	// Drop its labels: the job releases it.
	p, err := pods.Get(ctx, first.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Labels = nil
	if _, err := pods.Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 10*time.Second, "the non-matching pod released", func() bool {
		p, err := pods.Get(ctx, first.Name, metav1.GetOptions{})
		return err == nil && metav1.GetControllerOf(p) == nil
	})
}

func ptr[T any](v T) *T { return &v }
