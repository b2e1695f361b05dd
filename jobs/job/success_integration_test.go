package job_test

import (
	"context"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestIntegrationSuccessPolicy against the real API server: an Indexed job of 4 pods whose
// successPolicy needs index 0 only; index 0 succeeds while the others keep running. The job gets
// SuccessCriteriaMet, its running pods are deleted, and it completes with reason SuccessPolicy.
// A job managed by another controller (spec.managedBy) meanwhile gets neither pods nor status,
// and the API refuses a successPolicy without the Indexed mode, with Kubernetes' text.
func TestIntegrationSuccessPolicy(t *testing.T) {
	cs := startController(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			time.Sleep(30 * time.Millisecond)
			list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			for _, p := range list.Items {
				if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodRunning {
					continue
				}
				p.Status.Phase = corev1.PodRunning
				if p.Annotations[batchv1.JobCompletionIndexAnnotation] == "0" {
					p.Status.Phase = corev1.PodSucceeded
					p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{
						Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.Now()}}}}
				}
				if _, err := cs.CoreV1().Pods("default").UpdateStatus(ctx, &p, metav1.UpdateOptions{}); err != nil && ctx.Err() == nil && !apierrors.IsNotFound(err) {
					t.Logf("kubelet: %v", err)
				}
			}
		}
	}()
	four := int32(4)
	mode := batchv1.IndexedCompletion
	spec := batchv1.JobSpec{
		Parallelism: &four, Completions: &four, CompletionMode: &mode,
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "main", Image: "busybox"}}}},
	}
	external := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "external"}, Spec: *spec.DeepCopy()}
	other := "example.com/other"
	external.Spec.ManagedBy = &other
	if _, err := cs.BatchV1().Jobs("default").Create(ctx, external, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "leader"}, Spec: *spec.DeepCopy()}
	j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededIndexes: ptr("0")}}}
	if _, err := cs.BatchV1().Jobs("default").Create(ctx, j, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, c := waitFinished(ctx, t, cs, "leader")
	const msg = "Matched rules at index 0"
	if c.Type != batchv1.JobComplete || c.Reason != batchv1.JobReasonSuccessPolicy || c.Message != msg {
		t.Errorf("condition %s %s %q, want Complete SuccessPolicy %q", c.Type, c.Reason, c.Message, msg)
	}
	var types []batchv1.JobConditionType
	for _, c := range got.Status.Conditions {
		types = append(types, c.Type)
	}
	if len(types) != 2 || types[0] != batchv1.JobSuccessCriteriaMet || types[1] != batchv1.JobComplete {
		t.Errorf("conditions %v, want [SuccessCriteriaMet Complete]", types)
	}
	if got.Status.Succeeded != 1 || got.Status.CompletedIndexes != "0" || got.Status.Failed != 0 || got.Status.CompletionTime == nil {
		t.Errorf("status succeeded %d completedIndexes %q failed %d completionTime %v, want 1, 0, 0 and set",
			got.Status.Succeeded, got.Status.CompletedIndexes, got.Status.Failed, got.Status.CompletionTime)
	}
	pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "job-name=leader"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 1 || pods.Items[0].Status.Phase != corev1.PodSucceeded {
		t.Errorf("%d pods left, want index 0's succeeded pod only", len(pods.Items))
	}

	// The controller has been running all along: the external job is untouched.
	pods, err = cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "job-name=external"})
	if err != nil {
		t.Fatal(err)
	}
	ext, err := cs.BatchV1().Jobs("default").Get(ctx, "external", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 0 || ext.Status.StartTime != nil || ext.Status.Active != 0 || len(ext.Status.Conditions) != 0 {
		t.Errorf("job managed by %s: %d pods, status %+v; want none", other, len(pods.Items), ext.Status)
	}

	bad := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "nonindexed"}, Spec: *spec.DeepCopy()}
	bad.Spec.CompletionMode = nil
	bad.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededCount: ptr(int32(1))}}}
	_, err = cs.BatchV1().Jobs("default").Create(ctx, bad, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.successPolicy: Invalid value") ||
		!strings.Contains(err.Error(), "requires indexed completion mode") {
		t.Errorf("create a non-indexed job with a successPolicy: %v, want the Invalid successPolicy error", err)
	}
}
