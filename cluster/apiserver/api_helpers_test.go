package apiserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
)

// startClient runs a test API server over memstore and returns it with a typed client.
func startClient(t *testing.T) (*apiservertest.Server, kubernetes.Interface) {
	t.Helper()
	srv := apiservertest.Start(t)
	return srv, clientFor(t, srv.Config)
}

func clientFor(t *testing.T, cfg *rest.Config) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return cs
}

// testCtx is a context bounded well inside the package's time budget.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newPod(name string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "main", Image: "busybox:1.36",
			Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
		}}},
	}
}

func newRC(name string, replicas int32) *corev1.ReplicationController {
	labels := map[string]string{"app": name}
	return &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ReplicationControllerSpec{
			Replicas: &replicas,
			Selector: labels,
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{
					{Name: "a", Image: "nginx:1.25"},
					{Name: "b", Image: "redis:7"},
				}},
			},
		},
	}
}

func newService(name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80}},
		},
	}
}

// rawResponse is an HTTP answer read in full.
type rawResponse struct {
	code   int
	header http.Header
	body   []byte
}

// status decodes the body as a metav1.Status.
func (r rawResponse) status(t *testing.T) metav1.Status {
	t.Helper()
	var st metav1.Status
	if err := json.Unmarshal(r.body, &st); err != nil {
		t.Fatalf("answer %d is not a Status: %v: %s", r.code, err, r.body)
	}
	return st
}

// doRaw sends one request through the client's authenticated transport.
func doRaw(t *testing.T, srv *apiservertest.Server, method, path, contentType string, body []byte) rawResponse {
	t.Helper()
	hc, err := rest.HTTPClientFor(srv.Config)
	if err != nil {
		t.Fatalf("http client: %v", err)
	}
	return doWith(t, hc, method, srv.URL+path, contentType, body, nil)
}

func doWith(t *testing.T, hc *http.Client, method, url, contentType string, body []byte, hdr http.Header) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return rawResponse{code: resp.StatusCode, header: resp.Header, body: b}
}

// eventually polls cond every 50 ms until it is true or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(within)
	var lastErr error
	for {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within %s (last error: %v)", what, within, lastErr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// gone reports whether get answers 404.
func gone(err error) (bool, error) {
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	return false, err
}

// wantStatus fails unless err is an API error with the given HTTP code.
func wantStatus(t *testing.T, what string, err error, code int32) *apierrors.StatusError {
	t.Helper()
	se, ok := err.(*apierrors.StatusError)
	if !ok {
		t.Fatalf("%s: want an API error with code %d, got %v", what, code, err)
	}
	if se.ErrStatus.Code != code {
		t.Fatalf("%s: code %d (%s: %s), want %d", what, se.ErrStatus.Code, se.ErrStatus.Reason, se.ErrStatus.Message, code)
	}
	return se
}

// hasCause reports whether a Status names field among its causes.
func hasCause(st metav1.Status, field string) bool {
	if st.Details == nil {
		return false
	}
	for _, c := range st.Details.Causes {
		if c.Field == field {
			return true
		}
	}
	return false
}
