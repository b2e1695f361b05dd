package discovery

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// stubServer is a tiny object store behind Discovery: enough REST for kubectl create and
// apply of configmaps and pods, recording every request.
type stubServer struct {
	disc     http.Handler
	mu       sync.Mutex
	objects  map[string][]byte // by URL path
	requests []stubRequest
}

type stubRequest struct {
	method, path, query, contentType, accept string
	body                                     []byte
}

func (s *stubServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, stubRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"), r.Header.Get("Accept"), body})
	if IsPath(r.URL.Path) {
		s.disc.ServeHTTP(w, r)
		return
	}
	switch r.Method {
	case http.MethodPost:
		var obj map[string]interface{}
		if err := json.Unmarshal(body, &obj); err != nil {
			writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error())
			return
		}
		name := obj["metadata"].(map[string]interface{})["name"].(string)
		s.objects[r.URL.Path+"/"+name] = body
		s.writeJSON(w, http.StatusCreated, body)
	case http.MethodGet:
		if b, ok := s.objects[r.URL.Path]; ok {
			s.writeJSON(w, http.StatusOK, b)
			return
		}
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "not found")
	case http.MethodPatch:
		b, ok := s.objects[r.URL.Path]
		if !ok {
			writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "not found")
			return
		}
		s.writeJSON(w, http.StatusOK, b) // good enough: kubectl only prints the name
	default:
		writeStatus(w, http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed, r.Method)
	}
}

func (s *stubServer) writeJSON(w http.ResponseWriter, code int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// put stores an object for the handler to serve (under the lock: the handler runs on the
// server's goroutines).
func (s *stubServer) put(path string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[path] = body
}

func (s *stubServer) find(method, path string) []stubRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []stubRequest
	for _, r := range s.requests {
		if r.method == method && r.path == path {
			out = append(out, r)
		}
	}
	return out
}

// kubectlPath finds the real kubectl or skips (fails with DROVER_E2E=1).
func kubectlPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("kubectl")
	if err != nil {
		if os.Getenv("DROVER_E2E") == "1" {
			t.Fatalf("kubectl not found: %v", err)
		}
		t.Skipf("kubectl not found: %v", err)
	}
	return path
}

// kubectlEnv starts the stub server and writes a kubeconfig for it.
func kubectlEnv(t *testing.T) (*stubServer, func(args ...string) (string, string, error)) {
	kubectl := kubectlPath(t)
	stub := &stubServer{disc: New(testResources(), testVersion()), objects: map[string][]byte{}}
	srv := httptest.NewTLSServer(stub)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q, insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: secret}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: default}}]
current-context: x
`, srv.URL)
	if err := os.WriteFile(kubeconfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, string, error) {
		args = append([]string{"--kubeconfig", kubeconfig, "--cache-dir", filepath.Join(dir, "cache"), "--request-timeout", "20s"}, args...)
		cmd := exec.Command(kubectl, args...)
		cmd.Env = append(os.Environ(), "HOME="+dir)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			return "", "", err
		}
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			return stdout.String(), stderr.String(), err
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			return stdout.String(), stderr.String(), fmt.Errorf("kubectl %v timed out", args)
		}
	}
	return stub, run
}

func writeManifest(t *testing.T, name string, obj interface{}) string {
	t.Helper()
	b, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestKubectlCreateUsesServerSideFieldValidation(t *testing.T) {
	stub, kubectl := kubectlEnv(t)
	pod := map[string]interface{}{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]interface{}{"name": "web"},
		"spec": map[string]interface{}{"containers": []interface{}{
			map[string]interface{}{"name": "c", "image": "nginx", "ports": []interface{}{map[string]interface{}{"containerPort": 80}}},
		}},
	}
	out, errOut, err := kubectl("create", "-f", writeManifest(t, "pod.yaml", pod))
	if err != nil {
		t.Fatalf("kubectl create: %v\nstdout: %s\nstderr: %s", err, out, errOut)
	}
	if !strings.Contains(out, "pod/web created") {
		t.Errorf("kubectl create printed %q, want pod/web created", out)
	}
	posts := stub.find(http.MethodPost, "/api/v1/namespaces/default/pods")
	if len(posts) != 1 {
		t.Fatalf("got %d POSTs of pods, want 1", len(posts))
	}
	if !strings.Contains(posts[0].query, "fieldValidation=Strict") {
		t.Errorf("create query = %q, want fieldValidation=Strict", posts[0].query)
	}
	if errOut != "" {
		t.Errorf("kubectl create wrote to stderr: %s", errOut)
	}
}

func TestKubectlApplyCreatesThenPatches(t *testing.T) {
	stub, kubectl := kubectlEnv(t)
	cm := map[string]interface{}{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]interface{}{"name": "settings"},
		"data":     map[string]interface{}{"a": "1"},
	}
	out, errOut, err := kubectl("apply", "-f", writeManifest(t, "cm.yaml", cm))
	if err != nil {
		t.Fatalf("kubectl apply (create): %v\nstdout: %s\nstderr: %s", err, out, errOut)
	}
	posts := stub.find(http.MethodPost, "/api/v1/namespaces/default/configmaps")
	if len(posts) != 1 || !strings.Contains(posts[0].query, "fieldValidation=Strict") {
		t.Fatalf("apply create requests = %+v, want one POST with fieldValidation=Strict", posts)
	}
	cm["data"] = map[string]interface{}{"a": "2"}
	out, errOut, err = kubectl("apply", "-f", writeManifest(t, "cm2.yaml", cm))
	if err != nil {
		t.Fatalf("kubectl apply (patch): %v\nstdout: %s\nstderr: %s", err, out, errOut)
	}
	patches := stub.find(http.MethodPatch, "/api/v1/namespaces/default/configmaps/settings")
	if len(patches) != 1 {
		t.Fatalf("got %d PATCHes, want 1", len(patches))
	}
	p := patches[0]
	if !strings.Contains(p.query, "fieldValidation=Strict") {
		t.Errorf("patch query = %q, want fieldValidation=Strict", p.query)
	}
	if p.contentType != "application/strategic-merge-patch+json" {
		t.Errorf("patch Content-Type = %q, want application/strategic-merge-patch+json", p.contentType)
	}
	if !strings.Contains(string(p.body), `"a":"2"`) {
		t.Errorf("patch body = %s, want the new data", p.body)
	}
	if strings.Contains(errOut, "warning") {
		t.Errorf("kubectl apply warned: %s", errOut)
	}
}

func TestKubectlAPIResources(t *testing.T) {
	_, kubectl := kubectlEnv(t)
	out, errOut, err := kubectl("api-resources", "--no-headers")
	if err != nil {
		t.Fatalf("kubectl api-resources: %v\nstdout: %s\nstderr: %s", err, out, errOut)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		got[f[0]] = strings.Join(f[1:], " ")
	}
	want := map[string]string{
		"pods":                   "po v1 true Pod",
		"replicationcontrollers": "rc v1 true ReplicationController",
		"namespaces":             "ns v1 false Namespace",
		"jobs":                   "batch/v1 true Job",
		"cronjobs":               "cj batch/v1 true CronJob",
		"leases":                 "coordination.k8s.io/v1 true Lease",
	}
	for name, cols := range want {
		if got[name] != cols {
			t.Errorf("api-resources %s = %q, want %q", name, got[name], cols)
		}
	}
	if len(got) != len(testResources()) {
		t.Errorf("api-resources listed %d resources, want %d:\n%s", len(got), len(testResources()), out)
	}
}

func TestKubectlScaleUsesScaleSubresource(t *testing.T) {
	stub, kubectl := kubectlEnv(t)
	rc := `{"apiVersion":"v1","kind":"ReplicationController","metadata":{"name":"jenkins","namespace":"default","resourceVersion":"5"},"spec":{"replicas":1}}`
	stub.put("/api/v1/namespaces/default/replicationcontrollers/jenkins", []byte(rc))
	stub.put("/api/v1/namespaces/default/replicationcontrollers/jenkins/scale", []byte(
		`{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"jenkins","namespace":"default"},"spec":{"replicas":2}}`))
	out, errOut, err := kubectl("scale", "rc", "jenkins", "--replicas=2")
	if err != nil {
		t.Fatalf("kubectl scale: %v\nstdout: %s\nstderr: %s", err, out, errOut)
	}
	patches := stub.find(http.MethodPatch, "/api/v1/namespaces/default/replicationcontrollers/jenkins/scale")
	if len(patches) != 1 {
		t.Fatalf("got %d PATCHes of the scale subresource, want 1", len(patches))
	}
	if p := patches[0]; p.contentType != "application/merge-patch+json" || string(p.body) != `{"spec":{"replicas":2}}` {
		t.Errorf("scale patch = %s %s, want a merge patch of spec.replicas", p.contentType, p.body)
	}
}

// A "kind: List" file has no server-side validation to lean on (its GVK is not served), so
// kubectl 1.32 validates it on the client with the OpenAPI v2 document: good items pass,
// a misspelt field is refused before anything is sent.
func TestKubectlListValidatesOnClientWithOpenAPIV2(t *testing.T) {
	stub, kubectl := kubectlEnv(t)
	list := func(field string) map[string]interface{} {
		return map[string]interface{}{"apiVersion": "v1", "kind": "List", "items": []interface{}{
			map[string]interface{}{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]interface{}{"name": "one"}, field: map[string]interface{}{"k": "v"}},
		}}
	}
	out, errOut, err := kubectl("create", "-f", writeManifest(t, "good.yaml", list("data")))
	if err != nil {
		t.Fatalf("kubectl create of a List: %v\nstdout: %s\nstderr: %s", err, out, errOut)
	}
	if len(stub.find(http.MethodGet, "/openapi/v2")) == 0 {
		t.Errorf("kubectl did not fetch /openapi/v2 for a List")
	}
	before := len(stub.find(http.MethodPost, "/api/v1/namespaces/default/configmaps"))
	out, errOut, err = kubectl("create", "-f", writeManifest(t, "bad.yaml", list("dataa")))
	if err == nil || !strings.Contains(errOut, "dataa") {
		t.Errorf("kubectl create of a List with a misspelt field: err=%v stderr=%s, want an error naming it", err, errOut)
	}
	if after := len(stub.find(http.MethodPost, "/api/v1/namespaces/default/configmaps")); after != before {
		t.Errorf("the invalid List reached the server")
	}
}
