package probe

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestRealProber(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" || r.Header.Get("X-Probe") != "yes" {
			http.Error(w, "wrong request", 400)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	host, p, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(p)
	c := &corev1.Container{Name: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}}
	var execID string
	var execCmd []string
	real := Real{Exec: func(ctx context.Context, id string, cmd []string) (int, []byte, error) {
		execID, execCmd = id, cmd
		if _, ok := ctx.Deadline(); !ok {
			t.Errorf("exec without a deadline")
		}
		return 1, []byte("unhealthy"), nil
	}}
	target := Target{PodIP: host, Container: c, ContainerID: "abc"}
	tests := []struct {
		name    string
		handler corev1.ProbeHandler
		want    Result
		message string
	}{
		{"httpGet by port name", corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http"),
			HTTPHeaders: []corev1.HTTPHeader{{Name: "X-Probe", Value: "yes"}}}}, Success, "ok"},
		{"httpGet wrong path", corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(int32(port))}}, Failure, "HTTP probe failed with statuscode: 400"},
		{"tcpSocket", corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("http")}}, Success, ""},
		{"exec", corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"check"}}}, Failure, "unhealthy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, msg, err := real.Probe(context.Background(), &corev1.Probe{ProbeHandler: tc.handler}, target)
			if res != tc.want || msg != tc.message || err != nil {
				t.Errorf("Probe = %v, %q, %v; want %v, %q", res, msg, err, tc.want, tc.message)
			}
		})
	}
	if execID != "abc" || !cmp.Equal(execCmd, []string{"check"}) {
		t.Errorf("exec ran %v in %q", execCmd, execID)
	}
	for name, h := range map[string]corev1.ProbeHandler{
		"none":         {},
		"bad port":     {TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("nope")}},
		"exec no func": {Exec: &corev1.ExecAction{Command: []string{"x"}}},
	} {
		pr := real
		if name == "exec no func" {
			pr = Real{}
		}
		if res, _, err := pr.Probe(context.Background(), &corev1.Probe{ProbeHandler: h}, target); res != Unknown || err == nil {
			t.Errorf("%s: Probe = %v, %v; want Unknown and an error", name, res, err)
		}
	}
}
