package multihosttest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/internal/multihosttest"
)

// TestSeparateNodeServesLogsWithItsCSRCertificate: a `drover node` on another host (its own
// network namespace and dockerd) given no --tls-cert-file asks the cluster for its serving
// certificate with a kubernetes.io/kubelet-serving CertificateSigningRequest, which the
// server's controllers approve and sign; the API server, which verifies node certificates
// against drover's CA, then gets the logs of a pod on that node. Before, such a node served a
// self-signed certificate and the logs request failed with a certificate error.
func TestSeparateNodeServesLogsWithItsCSRCertificate(t *testing.T) {
	c := multihosttest.Start(t, 1, multihosttest.Options{Prefix: "dnc", Net: "172.30.77"})
	srv := c.StartServer()
	h := c.Hosts[0]
	h.StartNode(srv.Kubeconfig)
	c.WaitNodesReady(srv.Client, 90*time.Second)
	cs := srv.Client
	ctx := context.Background()

	pod := testPod("web", h.Name, nil)
	pod.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080, HostPort: 18080}}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The node removes the pod (and unmounts its volumes) before the hosts go, also when the
	// test fails.
	t.Cleanup(func() {
		_ = cs.CoreV1().Pods("default").Delete(ctx, "web", metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
		eventually(t, 60*time.Second, "pod web gone", func() bool {
			_, err := cs.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		})
	})
	waitRunning(t, cs, "web", h.Name)
	eventually(t, 60*time.Second, "the pod answering on its hostPort", func() bool {
		_, code, _ := httpDo("GET", fmt.Sprintf("http://%s:18080/echo", h.IP))
		return code == 200
	})
	var logs string
	var err error
	eventually(t, 60*time.Second, "pods/web/log through the API server", func() bool {
		var b []byte
		b, err = cs.CoreV1().Pods("default").GetLogs("web", &corev1.PodLogOptions{}).DoRaw(ctx)
		logs = string(b)
		return err == nil && strings.Contains(logs, "GET /echo from")
	})
	if err != nil {
		t.Fatalf("logs: %v\n%s", err, logs)
	}

	csrs, err := cs.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var issued int
	for _, r := range csrs.Items {
		if r.Spec.SignerName == certificatesv1.KubeletServingSignerName && len(r.Status.Certificate) > 0 {
			issued++
		}
	}
	if issued != 1 {
		t.Errorf("%d issued kubelet-serving CSRs, want the node's one: %+v", issued, csrs.Items)
	}

	// A restart reuses the stored certificate: no second request.
	h.StopNode()
	h.StartNode(srv.Kubeconfig)
	eventually(t, 60*time.Second, "pods/web/log after the node agent's restart", func() bool {
		_, err = cs.CoreV1().Pods("default").GetLogs("web", &corev1.PodLogOptions{}).DoRaw(ctx)
		return err == nil
	})
	if csrs, err = cs.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{}); err != nil || len(csrs.Items) != 1 {
		t.Errorf("after a restart: %d CSRs (%v), want the first one only", len(csrs.Items), err)
	}
}
