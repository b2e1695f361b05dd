package probe

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestResolvePort(t *testing.T) {
	c := &corev1.Container{Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "big", ContainerPort: 70000}}}
	tests := []struct {
		port intstr.IntOrString
		want int
		err  bool
	}{
		{intstr.FromInt32(80), 80, false},
		{intstr.FromString("http"), 8080, false},
		{intstr.FromString("9090"), 9090, false},
		{intstr.FromString("nope"), -1, true},
		{intstr.FromInt32(0), 0, true},
		{intstr.FromInt32(65536), 65536, true},
		{intstr.FromString("big"), 70000, true},
	}
	for _, tc := range tests {
		got, err := ResolvePort(tc.port, c)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("ResolvePort(%v) = %d, %v; want %d, error %v", tc.port.String(), got, err, tc.want, tc.err)
		}
	}
	if _, err := ResolvePort(intstr.FromString("http"), nil); err == nil {
		t.Errorf("ResolvePort(named, nil container) succeeded")
	}
}

func TestHTTPGetURL(t *testing.T) {
	c := &corev1.Container{Ports: []corev1.ContainerPort{{Name: "web", ContainerPort: 8080}}}
	tests := []struct {
		action corev1.HTTPGetAction
		want   string
	}{
		{corev1.HTTPGetAction{Port: intstr.FromString("web")}, "http://10.0.0.5:8080/"},
		{corev1.HTTPGetAction{Path: "/healthz?x=1", Port: intstr.FromInt32(81), Scheme: corev1.URISchemeHTTPS}, "https://10.0.0.5:81/healthz?x=1"},
		{corev1.HTTPGetAction{Path: "/h", Host: "example.test", Port: intstr.FromInt32(80)}, "http://example.test:80/h"},
		{corev1.HTTPGetAction{Path: "/h", Host: "::1", Port: intstr.FromInt32(80)}, "http://[::1]:80/h"},
	}
	for _, tc := range tests {
		got, _, err := HTTPGetURL(&tc.action, "10.0.0.5", c)
		if err != nil || got != tc.want {
			t.Errorf("HTTPGetURL(%+v) = %q, %v; want %q", tc.action, got, err, tc.want)
		}
	}
	a := corev1.HTTPGetAction{Port: intstr.FromInt32(80), HTTPHeaders: []corev1.HTTPHeader{{Name: "x-a", Value: "1"}, {Name: "X-A", Value: "2"}}}
	_, h, _ := HTTPGetURL(&a, "10.0.0.5", c)
	if diff := cmp.Diff(http.Header{"X-A": {"1", "2"}}, h); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	if _, _, err := HTTPGetURL(&corev1.HTTPGetAction{Port: intstr.FromString("none")}, "10.0.0.5", c); err == nil {
		t.Errorf("unknown named port accepted")
	}
}
