package apiserver_test

import (
	"crypto/tls"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cluster/apiserver"
)

// recorder is a listener that takes whatever the API server sends it: plain TCP (it reads the
// first bytes), or HTTPS with a given certificate (it records the requests' Authorization
// headers and client certificates).
type recorder struct {
	mu      sync.Mutex
	raw     []string // first bytes of each plain connection
	auth    []string // Authorization headers of HTTPS requests
	clients []string // client certificate subjects of HTTPS requests
}

func (r *recorder) plain(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				n, _ := c.Read(buf)
				r.mu.Lock()
				r.raw = append(r.raw, string(buf[:n]))
				r.mu.Unlock()
				_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func (r *recorder) https(t *testing.T, cert tls.Certificate) int {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.auth = append(r.auth, req.Header.Get("Authorization"))
		if req.TLS != nil && len(req.TLS.PeerCertificates) > 0 {
			r.clients = append(r.clients, req.TLS.PeerCertificates[0].Subject.CommonName)
		}
		r.mu.Unlock()
		_, _ = w.Write([]byte("log line\n"))
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// The admin token never leaves the API server: pods/log of a pod on a fake Node whose address
// is a listener of the attacker's gets no token. A plain listener gets no HTTP request at all
// (the API server speaks TLS and the handshake fails); an HTTPS listener whose certificate is
// not from drover's CA gets nothing either; and even one with a certificate from the CA (a
// node's) sees only the API server's own client certificate, never an Authorization header.
func TestAdminTokenNeverLeavesTheAPIServer(t *testing.T) {
	t.Parallel()
	srv, admin := startClient(t)
	ctx := testCtx(t)
	_, token := caClient(t, srv.Kubeconfig)
	var rec recorder
	otherCA, err := apiserver.LoadOrCreatePKI(filepath.Join(t.TempDir(), "pki"), []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := otherCA.IssueServing("system:node:evil-foreign", []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	fromCA, err := srv.PKI.IssueServing("system:node:evil-ca", []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	ports := map[string]int{"evil-plain": rec.plain(t), "evil-foreign": rec.https(t, foreign), "evil-ca": rec.https(t, fromCA)}
	for name, port := range ports {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
		created, err := admin.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		created.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
		created.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
		created.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
		if _, err := admin.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		p := newPod("on-"+name, nil)
		p.Spec.NodeName = name
		if _, err := admin.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		_, err = admin.CoreV1().Pods("default").GetLogs("on-"+name, &corev1.PodLogOptions{}).DoRaw(ctx)
		if name == "evil-ca" {
			if err != nil {
				t.Errorf("logs through a node agent with a certificate from the CA: %v", err)
			}
		} else if err == nil {
			t.Errorf("logs through %s answered: the API server trusted a listener it should not", name)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, raw := range rec.raw {
		if strings.Contains(raw, token) || strings.Contains(raw, "Authorization") || strings.HasPrefix(raw, "GET ") {
			t.Errorf("the plain listener received an HTTP request: %q", raw)
		}
	}
	if len(rec.auth) != 1 {
		t.Fatalf("HTTPS listeners got %d requests, want 1 (the one with the CA's certificate)", len(rec.auth))
	}
	if rec.auth[0] != "" {
		t.Errorf("the API server sent Authorization %q to a node agent", rec.auth[0])
	}
	if len(rec.clients) != 1 || rec.clients[0] != "drover-apiserver-kubelet-client" {
		t.Errorf("client certificates presented: %v, want the API server's own", rec.clients)
	}
}
