package app

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestLogsRequest(t *testing.T) {
	api := newFakeAPI(t)
	api.handle("GET /api/v1/namespaces/default/pods/p/log", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("line 1\nline 2\n"))
	})
	api.handle("GET /api/v1/namespaces/default/pods/two", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, &corev1.Pod{TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}}})
	})
	c := api.clients(t)
	var out bytes.Buffer
	o := &logsOptions{container: "jenkins", tail: 5, previous: true, follow: true}
	if err := streamLogs(t.Context(), c.typed, "default", "p", o, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "line 1\nline 2\n" {
		t.Errorf("logs = %q", out.String())
	}
	req := api.recorded()[0]
	for _, want := range []string{"container=jenkins", "tailLines=5", "previous=true", "follow=true"} {
		if !strings.Contains(req, want) {
			t.Errorf("request %q lacks %s", req, want)
		}
	}
	err := streamLogs(t.Context(), c.typed, "default", "two", &logsOptions{tail: -1}, &out)
	if err == nil || !strings.Contains(err.Error(), "choose one of: [a b]") {
		t.Errorf("multi-container pod without -c: %v", err)
	}
}
