package apiserver_test

import (
	"context"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
)

// TestDeleteOptionsInGroupVersion: client-go's typed clients send DeleteOptions in their own
// group version (batch/v1 for jobs); the server accepts it as Kubernetes does.
func TestDeleteOptionsInGroupVersion(t *testing.T) {
	srv := apiservertest.Start(t)
	c, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j"}, Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}}
	created, err := c.BatchV1().Jobs("default").Create(ctx, job, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bg := metav1.DeletePropagationBackground
	err = c.BatchV1().Jobs("default").Delete(ctx, "j", metav1.DeleteOptions{PropagationPolicy: &bg,
		Preconditions: &metav1.Preconditions{UID: &created.UID}})
	if err != nil {
		t.Fatalf("delete with a batch/v1 DeleteOptions body: %v", err)
	}
	if _, err := c.BatchV1().Jobs("default").Get(ctx, "j", metav1.GetOptions{}); err == nil {
		t.Fatal("job still there")
	}
}
