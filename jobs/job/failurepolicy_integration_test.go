package job_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestIntegrationPodFailurePolicyFailJob is Kubernetes' conformance "should allow to use the
// pod failure policy on exit code to fail the job early" against the real API server: the
// first pod exits 3, which a FailJob rule matches, while the other keeps running; the job
// fails with reason PodFailurePolicy long before its backoffLimit, its running pod deleted.
func TestIntegrationPodFailurePolicyFailJob(t *testing.T) {
	cs := startController(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	failed := make(chan string, 1)
	go func() {
		first := ""
		for ctx.Err() == nil {
			time.Sleep(30 * time.Millisecond)
			list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			for _, p := range list.Items {
				switch {
				case p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodFailed:
					continue
				case p.Status.Phase == "" || p.Status.Phase == corev1.PodPending:
					p.Status.Phase = corev1.PodRunning
				case first == "":
					first = p.Name
					p.Status.Phase = corev1.PodFailed
					p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{
						Terminated: &corev1.ContainerStateTerminated{ExitCode: 3, FinishedAt: metav1.Now()}}}}
					failed <- p.Name
				default:
					continue
				}
				if _, err := cs.CoreV1().Pods("default").UpdateStatus(ctx, &p, metav1.UpdateOptions{}); err != nil && ctx.Err() == nil {
					t.Logf("kubelet: %v", err)
				}
			}
		}
	}()
	two, four := int32(2), int32(4)
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "early"}, Spec: batchv1.JobSpec{
		Parallelism: &two, Completions: &four,
		PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
			Action:      batchv1.PodFailurePolicyActionFailJob,
			OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{3}},
		}}},
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "main", Image: "busybox"}}}},
	}}
	if _, err := cs.BatchV1().Jobs("default").Create(ctx, j, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, c := waitFinished(ctx, t, cs, "early")
	var name string
	select {
	case name = <-failed:
	default:
		t.Fatal("the job finished without a failed pod")
	}
	want := fmt.Sprintf("Container main for pod default/%s failed with exit code 3 matching FailJob rule at index 0", name)
	if c.Type != batchv1.JobFailed || c.Reason != batchv1.JobReasonPodFailurePolicy || c.Message != want {
		t.Errorf("condition %s %s %q, want Failed PodFailurePolicy %q", c.Type, c.Reason, c.Message, want)
	}
	var types []batchv1.JobConditionType
	for _, c := range got.Status.Conditions {
		types = append(types, c.Type)
	}
	if len(types) != 2 || types[0] != batchv1.JobFailureTarget || types[1] != batchv1.JobFailed {
		t.Errorf("conditions %v, want [FailureTarget Failed]", types)
	}
	pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "job-name=early"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodFailed {
			t.Errorf("pod %s left in phase %s after the job failed", p.Name, p.Status.Phase)
		}
	}

	// The API refuses a podFailurePolicy with restartPolicy OnFailure, as Kubernetes does.
	bad := j.DeepCopy()
	bad.Name = "onfailure"
	bad.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	_, err = cs.BatchV1().Jobs("default").Create(ctx, bad, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(),
		`spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified`) {
		t.Errorf("create with restartPolicy OnFailure: %v, want the Invalid restartPolicy error", err)
	}
}

// TestIntegrationBackoffLimitPerIndex: an Indexed job with backoffLimitPerIndex 0 whose index 1
// always fails runs its other indexes to success, does not retry index 1, and fails with
// FailedIndexes once every index is done.
func TestIntegrationBackoffLimitPerIndex(t *testing.T) {
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
				if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
					continue
				}
				code := int32(0)
				p.Status.Phase = corev1.PodSucceeded
				if p.Annotations[batchv1.JobCompletionIndexAnnotation] == "1" {
					p.Status.Phase, code = corev1.PodFailed, 1
				}
				p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{
					Terminated: &corev1.ContainerStateTerminated{ExitCode: code, FinishedAt: metav1.Now()}}}}
				if _, err := cs.CoreV1().Pods("default").UpdateStatus(ctx, &p, metav1.UpdateOptions{}); err != nil && ctx.Err() == nil {
					t.Logf("kubelet: %v", err)
				}
			}
		}
	}()
	three, zero := int32(3), int32(0)
	mode := batchv1.IndexedCompletion
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "perindex"}, Spec: batchv1.JobSpec{
		Parallelism: &three, Completions: &three, CompletionMode: &mode, BackoffLimitPerIndex: &zero,
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "main", Image: "busybox"}}}},
	}}
	if _, err := cs.BatchV1().Jobs("default").Create(ctx, j, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, c := waitFinished(ctx, t, cs, "perindex")
	if c.Type != batchv1.JobFailed || c.Reason != batchv1.JobReasonFailedIndexes {
		t.Errorf("condition %s %s, want Failed FailedIndexes", c.Type, c.Reason)
	}
	if got.Status.FailedIndexes == nil || *got.Status.FailedIndexes != "1" || got.Status.CompletedIndexes != "0,2" || got.Status.Failed != 1 {
		t.Errorf("status failedIndexes %v completedIndexes %q failed %d, want 1, 0,2 and 1", got.Status.FailedIndexes, got.Status.CompletedIndexes, got.Status.Failed)
	}
	pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "job-name=perindex"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 3 {
		t.Errorf("%d pods, want 3 (index 1 not retried)", len(pods.Items))
	}
}
