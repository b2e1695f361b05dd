package apiserver_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// proxyBackend is a backend on ip answering "SCHEME PATH", and an HTML link for /link; its
// port.
func proxyBackend(t *testing.T, ip string, tlsOn bool) int {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/link" {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<a href="/rewriteme">test</a>`)
			return
		}
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		fmt.Fprintf(w, "%s %s", scheme, r.URL.Path)
	})
	srv := httptest.NewUnstartedServer(h)
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener.Close()
	srv.Listener = l
	if tlsOn {
		srv.StartTLS() // a certificate for example.com, which no pod IP matches
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(port)
	return n
}

// hostIP is an IPv4 address of this host outside loopback (Endpoints refuse loopback ones).
func hostIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP.String()
		}
	}
	t.Fatal("this host has no IPv4 address outside loopback for a service endpoint")
	return ""
}

// proxiedPod creates a pod declaring ports and gives it the IP 127.0.0.1.
func proxiedPod(t *testing.T, cs kubernetes.Interface, name string, ports ...int) {
	t.Helper()
	ctx := testCtx(t)
	pod := newPod(name, nil)
	pod.Spec.Containers[0].Ports = nil
	for _, p := range ports {
		pod.Spec.Containers[0].Ports = append(pod.Spec.Containers[0].Ports, corev1.ContainerPort{ContainerPort: int32(p)})
	}
	pod, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.PodIP = "127.0.0.1"
	pod.Status.PodIPs = []corev1.PodIP{{IP: "127.0.0.1"}}
	if _, err := cs.CoreV1().Pods("default").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestPodProxyHTTPS: pods/https:NAME:PORT/proxy reaches a TLS backend (its certificate not
// verified, as kube-apiserver does), links in its HTML rewritten under the proxy path;
// http: and no scheme stay plain HTTP; no port is the first declared container port.
func TestPodProxyHTTPS(t *testing.T) {
	srv, cs := startClient(t)
	tlsPort, plainPort := proxyBackend(t, "127.0.0.1", true), proxyBackend(t, "127.0.0.1", false)
	proxiedPod(t, cs, "porter", plainPort, tlsPort)
	base := "/api/v1/namespaces/default/pods/"
	for _, c := range []struct{ id, path, want string }{
		{fmt.Sprintf("https:porter:%d", tlsPort), "/hello", "https /hello"},
		{fmt.Sprintf("porter:%d", plainPort), "/hello", "http /hello"},
		{fmt.Sprintf("http:porter:%d", plainPort), "/x/y", "http /x/y"},
		{"porter", "/first", "http /first"}, // the first container port: the plain one
		{fmt.Sprintf("https:porter:%d", tlsPort), "/link",
			fmt.Sprintf(`<a href="%shttps:porter:%d/proxy/rewriteme">test</a>`, base, tlsPort)},
	} {
		r := doRaw(t, srv, "GET", base+c.id+"/proxy"+c.path, "", nil)
		if r.code != http.StatusOK || string(r.body) != c.want {
			t.Errorf("GET pods/%s/proxy%s = %d %q, want 200 %q", c.id, c.path, r.code, r.body, c.want)
		}
	}
}

// TestServiceProxyHTTPS: services/https:NAME:PORTNAME/proxy and the port number reach the
// TLS endpoint; a plain port stays HTTP.
func TestServiceProxyHTTPS(t *testing.T) {
	srv, cs := startClient(t)
	ctx := testCtx(t)
	ip := hostIP(t)
	tlsPort, plainPort := proxyBackend(t, ip, true), proxyBackend(t, ip, false)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "porter"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
		{Name: "plain", Port: 80}, {Name: "tlsport", Port: 443}}}}
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "porter"}, Subsets: []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{{IP: ip}},
		Ports:     []corev1.EndpointPort{{Name: "plain", Port: int32(plainPort)}, {Name: "tlsport", Port: int32(tlsPort)}},
	}}}
	if _, err := cs.CoreV1().Endpoints("default").Create(ctx, ep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ id, want string }{
		{"https:porter:tlsport", "https /a"},
		{"https:porter:443", "https /a"},
		{"porter:plain", "http /a"},
		{"http:porter:80", "http /a"},
	} {
		r := doRaw(t, srv, "GET", "/api/v1/namespaces/default/services/"+c.id+"/proxy/a", "", nil)
		if r.code != http.StatusOK || string(r.body) != c.want {
			t.Errorf("GET services/%s/proxy/a = %d %q, want 200 %q", c.id, r.code, r.body, c.want)
		}
	}
	// A port number the service does not have, and a port name no endpoint has: 503 with
	// Kubernetes' messages.
	for id, want := range map[string]string{
		"https:porter:8443": `no service port 8443 found for service "porter"`,
		"https:porter:nope": `no endpoints available for service "https:porter:nope"`,
	} {
		r := doRaw(t, srv, "GET", "/api/v1/namespaces/default/services/"+id+"/proxy/", "", nil)
		if st := r.status(t); r.code != http.StatusServiceUnavailable || st.Message != want {
			t.Errorf("GET services/%s/proxy/ = %d %q, want 503 %q", id, r.code, st.Message, want)
		}
	}
}

// TestProxyInvalidScheme: a scheme other than http or https, an empty name and too many
// parts are 400 "invalid pod request" / "invalid service request", as in Kubernetes.
func TestProxyInvalidScheme(t *testing.T) {
	srv, cs := startClient(t)
	proxiedPod(t, cs, "porter", 80)
	for _, c := range []struct{ resource, id, want string }{
		{"pods", "ftp:porter:80", `invalid pod request "ftp:porter:80"`},
		{"pods", "https::80", `invalid pod request "https::80"`},
		{"pods", "a:b:c:d", `invalid pod request "a:b:c:d"`},
		{"services", "gopher:porter:80", `invalid service request "gopher:porter:80"`},
	} {
		r := doRaw(t, srv, "GET", "/api/v1/namespaces/default/"+c.resource+"/"+c.id+"/proxy/", "", nil)
		st := r.status(t)
		if r.code != http.StatusBadRequest || st.Reason != metav1.StatusReasonBadRequest || !strings.Contains(st.Message, c.want) {
			t.Errorf("GET %s/%s/proxy/ = %d %s %q, want 400 BadRequest %q", c.resource, c.id, r.code, st.Reason, st.Message, c.want)
		}
	}
}

// TestProxyEveryMethod: the pod proxy connects every method Kubernetes' does (proxyMethods:
// GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS); the conformance spec "A set of valid
// responses are returned for both pod and service Proxy" sends each with ?method=. OPTIONS
// was 405 before.
func TestProxyEveryMethod(t *testing.T) {
	srv, cs := startClient(t)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Method", r.Method)
		fmt.Fprint(w, r.Method)
	})
	backend := httptest.NewServer(h)
	t.Cleanup(backend.Close)
	_, port, _ := net.SplitHostPort(backend.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	proxiedPod(t, cs, "verbs", p)
	noFollow, err := rest.HTTPClientFor(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"} {
		r := doRaw(t, srv, m, "/api/v1/namespaces/default/pods/verbs/proxy/x", "", nil)
		want := m
		if m == "HEAD" {
			want = ""
		}
		if r.code != http.StatusOK || string(r.body) != want {
			t.Errorf("%s pods/verbs/proxy/x = %d %q, want 200 %q", m, r.code, r.body, want)
		}
		// .../proxy without a path: GET and HEAD are redirected to .../proxy/ (301, query
		// kept), the others go to the backend's root.
		r = doWith(t, noFollow, m, srv.URL+"/api/v1/namespaces/default/pods/verbs/proxy?method="+m, "", nil, nil)
		switch m {
		case "GET", "HEAD":
			if loc := r.header.Get("Location"); r.code != http.StatusMovedPermanently || loc != "/api/v1/namespaces/default/pods/verbs/proxy/?method="+m {
				t.Errorf("%s pods/verbs/proxy = %d Location %q, want 301 to .../proxy/?method=%s", m, r.code, loc, m)
			}
		default:
			if r.code != http.StatusOK || string(r.body) != m {
				t.Errorf("%s pods/verbs/proxy = %d %q, want 200 %q", m, r.code, r.body, m)
			}
		}
	}
}
