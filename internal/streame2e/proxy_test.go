package streame2e

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/internal/uptest"
)

// testProxy: kubectl proxy, then the fake Jenkins' /login through
// services/jenkins:http/proxy/ and pods/NAME:8080/proxy/.
func testProxy(t *testing.T, env *uptest.Env) {
	ctx := t.Context()
	createPod(t, env, pod("jenkins-0", map[string]string{"app": "jenkins"}, corev1.Container{Name: "jenkins", Image: jenkinsImg,
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}))
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "jenkins"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "jenkins"},
		Ports: []corev1.ServicePort{{Name: "http", Port: 8080, TargetPort: intstrPort(8080)}, {Name: "agent", Port: 50000, TargetPort: intstrPort(50000)}}}}
	if _, err := env.Client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cmd := exec.Command("kubectl", "--kubeconfig", env.Kubeconfig, "proxy", fmt.Sprintf("--port=%d", port))
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if !bufio.NewScanner(stdout).Scan() {
		t.Fatal("kubectl proxy printed nothing")
	}
	go io.Copy(io.Discard, stdout)
	for _, path := range []string{"/api/v1/namespaces/default/services/jenkins:http/proxy/login", "/api/v1/namespaces/default/pods/jenkins-0:8080/proxy/login"} {
		u := fmt.Sprintf("http://127.0.0.1:%d%s", port, path)
		var body string
		uptest.Eventually(t, 30*time.Second, "GET "+path+" through kubectl proxy", func() bool {
			resp, err := http.Get(u)
			if err != nil {
				return false
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			return resp.StatusCode == 200
		})
		if !strings.Contains(body, "Sign in to Jenkins") {
			t.Errorf("GET %s = %q, want the Jenkins login page", path, body)
		}
	}
}

// testSecurity: without a token every streaming and proxy route answers 401; the node agent's
// port refuses a caller without the API server's client certificate (none, or one from
// drover's own CA with another name); and a process in a pod, which can reach that port,
// gets no answer from it.
func testSecurity(t *testing.T, env *uptest.Env) {
	cfg, err := clientcmd.BuildConfigFromFlags("", env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(cfg.CAData)
	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}, Timeout: 10 * time.Second}
	for _, path := range []string{
		"/api/v1/namespaces/default/pods/two/exec?command=true&stdout=true&container=a",
		"/api/v1/namespaces/default/pods/two/attach?stdout=true&container=a",
		"/api/v1/namespaces/default/pods/web/portforward?ports=8080",
		"/api/v1/namespaces/default/pods/web:8080/proxy/healthz",
		"/api/v1/namespaces/default/services/web:http/proxy/healthz",
		"/api/v1/namespaces/default/pods/two/log?container=a",
	} {
		for _, method := range []string{"GET", "POST"} {
			req, _ := http.NewRequest(method, cfg.Host+path, nil)
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", "SPDY/3.1")
			resp, err := anon.Do(req)
			if err != nil {
				t.Errorf("%s %s without a token: %v", method, path, err)
				continue
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %s without a token: %s, want 401", method, path, resp.Status)
			}
		}
	}

	agent := fmt.Sprintf("127.0.0.1:%d", env.AgentPort)
	pki, err := apiserver.LoadOrCreatePKI(filepath.Join(env.DataDir, "pki"), []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.IssueClient("system:serviceaccount:default:default")
	if err != nil {
		t.Fatal(err)
	}
	for name, certs := range map[string][]tls.Certificate{"no certificate": nil, "another name from drover's CA": {other}} {
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, Certificates: certs}}}
		resp, err := c.Get("https://" + agent + "/exec/default/two/a?command=id&output=1")
		if err == nil {
			resp.Body.Close()
			t.Errorf("node agent port with %s answered %s, want the TLS handshake refused", name, resp.Status)
		}
	}
	// The API server's own certificate gets in (so the refusals above are about the caller).
	cert, err := tls.LoadX509KeyPair(filepath.Join(env.DataDir, "pki", "apiserver-kubelet-client.crt"), filepath.Join(env.DataDir, "pki", "apiserver-kubelet-client.key"))
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, ServerName: "127.0.0.1"}}}
	resp, err := c.Get("https://" + agent + "/containerLogs/default/two/a")
	if err != nil {
		t.Fatalf("node agent port with the API server's certificate: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("node agent port with the API server's certificate: %s", resp.Status)
	}

	// From inside a pod: the testserver pod fetches the agent's exec URL on the node's address.
	node, err := env.Client.CoreV1().Nodes().Get(t.Context(), env.Node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ip := ""
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			ip = a.Address
		}
	}
	target := fmt.Sprintf("https://%s:%d/exec/default/two/a?command=id&output=1", ip, env.AgentPort)
	out, errOut, _ := kubectl(env, nil, "", "get", "--raw", "/api/v1/namespaces/default/pods/web:8080/proxy/get?url="+url.QueryEscape(target))
	if strings.HasPrefix(out, "1") || strings.HasPrefix(out, "2") || strings.HasPrefix(out, "4") || !strings.Contains(errOut+out, "tls") {
		t.Errorf("a pod fetching %s got %q %q, want a TLS failure and no answer", target, out, errOut)
	}
}
