package proxy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/drover-ci/drover/internal/logtest"
)

// recordingAddrs adds nothing (127.0.0.0/8 is on lo already) and records the calls.
type recordingAddrs struct {
	mu    sync.Mutex
	calls []string
}

func (r *recordingAddrs) Add(_ context.Context, ip string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "add "+ip)
	return nil
}

func (r *recordingAddrs) Remove(_ context.Context, ip string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "remove "+ip)
	return nil
}

func (r *recordingAddrs) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

// startProxy runs a proxy over a fake clientset holding objs until the test ends, and waits
// until its informers watch.
func startProxy(t testing.TB, cfg Config, objs ...runtime.Object) (*fake.Clientset, *recordingAddrs) {
	t.Helper()
	client := fake.NewSimpleClientset(objs...)
	addrs := &recordingAddrs{}
	cfg.Client, cfg.Addrs = client, addrs
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler) // benchmarks: not a line per operation
		if _, bench := t.(*testing.B); !bench {
			cfg.Logger = logtest.New(t)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(cfg).Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for watches(client) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("proxy informers not watching after 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return client, addrs
}

func watches(c *fake.Clientset) int {
	n := 0
	for _, a := range c.Actions() {
		if a.GetVerb() == "watch" {
			n++
		}
	}
	return n
}

// backend is an HTTP server on 127.0.0.1 answering its name; it returns its port.
func backend(t testing.TB, name string) int32 {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, name)
	}))
	t.Cleanup(s.Close)
	_, port, _ := net.SplitHostPort(s.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	return int32(p)
}

// get fetches http://addr/ on a new connection from fromIP ("" for any); it returns the body
// or "error: ...".
func get(addr, fromIP string) string {
	d := &net.Dialer{Timeout: 2 * time.Second}
	if fromIP != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(fromIP)}
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, DialContext: d.DialContext}}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "error: " + err.Error()
	}
	return string(b)
}

// eventually retries check until it returns "" or 5 s pass.
func eventually(t *testing.T, check func() string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitServed waits until addr answers want.
func waitServed(t *testing.T, addr, want string) {
	t.Helper()
	eventually(t, func() string {
		if got := get(addr, ""); got != want {
			return fmt.Sprintf("GET %s: %q, want %q", addr, got, want)
		}
		return ""
	})
}

var httpPort = corev1.ServicePort{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}

func service(name, ip string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: ip, Ports: ports},
	}
}

// endpoints has one ready 127.0.0.1 address per backend port, all under the port name "http".
func endpoints(name string, ports ...int32) *corev1.Endpoints {
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}}
	for _, p := range ports {
		ep.Subsets = append(ep.Subsets, corev1.EndpointSubset{
			Addresses: []corev1.EndpointAddress{{IP: "127.0.0.1"}},
			Ports:     []corev1.EndpointPort{{Name: "http", Port: p, Protocol: corev1.ProtocolTCP}},
		})
	}
	return ep
}

// freePort is a TCP port that was free on 127.0.0.1 a moment ago.
func freePort(t testing.TB) int32 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return int32(ln.Addr().(*net.TCPAddr).Port)
}
