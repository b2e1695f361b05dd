package apiserver_test

import (
	"context"
	"net/http"
	"strings"
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

// TestDeleteRefusesUnreadableOptions: a DELETE whose options body cannot be read (over the
// 3 MiB limit) or decoded (malformed JSON, YAML or protobuf) is a 4xx and deletes nothing, even
// though the body would have asked for a dry run or a precondition the object does not meet.
func TestDeleteRefusesUnreadableOptions(t *testing.T) {
	srv, c := startClient(t)
	ctx := testCtx(t)
	if _, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "keep"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	opts := `{"kind":"DeleteOptions","apiVersion":"v1","dryRun":["All"],"preconditions":{"uid":"not-the-uid"}`
	huge := opts + `,"pad":"` + strings.Repeat("x", 3<<20) + `"}`
	for _, tc := range []struct {
		name, ct, body string
		code           int
	}{
		{"over the size limit", "application/json", huge, http.StatusRequestEntityTooLarge},
		{"truncated JSON", "application/json", opts, http.StatusBadRequest},
		{"not JSON", "application/json", "dryRun=All", http.StatusBadRequest},
		{"malformed YAML", "application/yaml", "dryRun: [All\npreconditions: {uid: x", http.StatusBadRequest},
		{"malformed protobuf", "application/vnd.kubernetes.protobuf", "k8s\x00\xff\xff\xff", http.StatusBadRequest},
	} {
		resp := doRaw(t, srv, http.MethodDelete, "/api/v1/namespaces/default/configmaps/keep", tc.ct, []byte(tc.body))
		if resp.code != tc.code {
			t.Errorf("%s: DELETE answered %d, want %d: %.300s", tc.name, resp.code, tc.code, resp.body)
		}
		if _, err := c.CoreV1().ConfigMaps("default").Get(ctx, "keep", metav1.GetOptions{}); err != nil {
			t.Fatalf("%s: the config map is gone after a refused DELETE: %v", tc.name, err)
		}
	}
	// An empty body (also whitespace, or chunked with no bytes) means no options.
	resp := doRaw(t, srv, http.MethodDelete, "/api/v1/namespaces/default/configmaps/keep", "application/json", []byte("  \n"))
	if resp.code != http.StatusOK {
		t.Fatalf("DELETE with a blank body: %d: %s", resp.code, resp.body)
	}
}
