package streame2e

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/internal/uptest"
)

func sha256File(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// testCp: kubectl cp of a 100 MB random file into the pod and back (sha256 equal), and of a
// directory tree both ways.
func testCp(t *testing.T, env *uptest.Env) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, 100<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	want := sha256File(t, big)
	if out, errOut, code := kubectl(env, nil, "", "cp", big, "default/two:/tmp/big", "-c", "a"); code != 0 {
		t.Fatalf("cp into the pod: %d %s %s", code, out, errOut)
	}
	out, errOut, code := kubectl(env, nil, "", "exec", "two", "-c", "a", "--", "sha256sum", "/tmp/big")
	if code != 0 || !strings.HasPrefix(out, want+" ") {
		t.Errorf("sha256sum in the pod = %q (%s), want %s", out, errOut, want)
	}
	back := filepath.Join(dir, "back")
	if out, errOut, code := kubectl(env, nil, "", "cp", "default/two:/tmp/big", back, "-c", "a"); code != 0 {
		t.Fatalf("cp out of the pod: %d %s %s", code, out, errOut)
	}
	if got := sha256File(t, back); got != want {
		t.Errorf("file copied back has sha256 %s, want %s", got, want)
	}

	tree := filepath.Join(dir, "tree")
	files := map[string]string{"a.txt": "alpha\n", "sub/b.txt": "beta\n", "sub/deeper/c.txt": "gamma\n", "empty": ""}
	for name, content := range files {
		p := filepath.Join(tree, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, errOut, code := kubectl(env, nil, "", "cp", tree, "default/two:/tmp/tree", "-c", "b"); code != 0 {
		t.Fatalf("cp a tree into the pod: %d %s %s", code, out, errOut)
	}
	out, _, _ = kubectl(env, nil, "", "exec", "two", "-c", "b", "--", "cat", "/tmp/tree/sub/deeper/c.txt")
	if out != "gamma\n" {
		t.Errorf("tree in the pod: c.txt = %q", out)
	}
	tree2 := filepath.Join(dir, "tree2")
	if out, errOut, code := kubectl(env, nil, "", "cp", "default/two:/tmp/tree", tree2, "-c", "b"); code != 0 {
		t.Fatalf("cp a tree out of the pod: %d %s %s", code, out, errOut)
	}
	for name, content := range files {
		b, err := os.ReadFile(filepath.Join(tree2, name))
		if err != nil || string(b) != content {
			t.Errorf("tree copied back: %s = %q, %v; want %q", name, b, err, content)
		}
	}
}

// testAttach: kubectl attach to a container printing a line a second sees the lines.
func testAttach(t *testing.T, env *uptest.Env) {
	createPod(t, env, pod("ticker", nil, corev1.Container{Name: "tick", Image: shellImage,
		Command: []string{"sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done"}}))
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			cmd := exec.Command("kubectl", "--kubeconfig", env.Kubeconfig, "attach", "ticker", "-c", "tick")
			cmd.Env = append(cmd.Environ(), p.env...)
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { cmd.Process.Kill(); cmd.Wait() }()
			got := make(chan []string, 1)
			go func() {
				var seen []string
				s := bufio.NewScanner(stdout)
				for s.Scan() {
					if strings.HasPrefix(s.Text(), "tick ") {
						seen = append(seen, s.Text())
						if len(seen) == 3 {
							break
						}
					}
				}
				got <- seen
			}()
			select {
			case seen := <-got:
				if len(seen) < 3 {
					t.Errorf("attach saw %q, want three tick lines", seen)
				}
			case <-time.After(30 * time.Second):
				t.Error("attach saw no three tick lines within 30s")
			}
		})
	}
}

// portForward runs kubectl port-forward TARGET LOCAL:REMOTE... and waits until it listens.
func portForward(t testing.TB, env *uptest.Env, extraEnv []string, target string, remotes ...string) ([]int, *exec.Cmd) {
	t.Helper()
	args := []string{"--kubeconfig", env.Kubeconfig, "port-forward", "--address", "127.0.0.1", target}
	var locals []int
	for _, r := range remotes {
		locals = append(locals, freePort(t))
		args = append(args, fmt.Sprintf("%d:%s", locals[len(locals)-1], r))
	}
	cmd := exec.Command("kubectl", args...)
	cmd.Env = append(cmd.Environ(), extraEnv...)
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan bool, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			if strings.HasPrefix(s.Text(), "Forwarding from") {
				ready <- true
				io.Copy(io.Discard, stdout)
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("port-forward %s ended: %s", target, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("port-forward %s did not listen within 30s: %s", target, stderr.String())
	}
	return locals, cmd
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// parallelGets sends n GETs at once to url and returns how many were answered 200.
func parallelGets(url string, n int) (int, []error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	ok := 0
	var errs []error
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resp, err := c.Get(fmt.Sprintf("%s?n=%d", url, i))
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					err = fmt.Errorf("%s", resp.Status)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			ok++
		}(i)
	}
	wg.Wait()
	return ok, errs
}

// testPortForward: pod/P 8080 and svc/S http, 50 parallel requests each answered, and the
// forward survives a connection the pod resets (the test server's TCP port answers and closes
// with our input unread); over WebSocket and SPDY.
func testPortForward(t *testing.T, env *uptest.Env) {
	ctx := t.Context()
	web := serverContainer("srv", 8080)
	web.Env = append(web.Env, corev1.EnvVar{Name: "TCP_PORT", Value: "9000"})
	createPod(t, env, pod("web", map[string]string{"app": "web"}, web))
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
		Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstrPort(8080)}}}}
	if _, err := env.Client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			locals, _ := portForward(t, env, p.env, "svc/web", "http")
			if ok, errs := parallelGets(fmt.Sprintf("http://127.0.0.1:%d/echo", locals[0]), 50); ok != 50 {
				t.Errorf("port-forward svc/web: %d of 50 answered; errors %v", ok, errs)
			}
			locals, cmd := portForward(t, env, p.env, "pod/web", "8080", "9000")
			base := fmt.Sprintf("http://127.0.0.1:%d", locals[0])
			if ok, errs := parallelGets(base+"/echo", 50); ok != 50 {
				t.Errorf("port-forward pod/web: %d of 50 answered; errors %v", ok, errs)
			}
			for i := 0; i < 3; i++ {
				c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", locals[1]))
				if err != nil {
					t.Fatal(err)
				}
				go c.Write(make([]byte, 256<<10))
				b, _ := io.ReadAll(c)
				c.Close()
				if string(b) != "ok\n" {
					t.Errorf("the pod's TCP port answered %q before closing, want ok", b)
				}
			}
			if ok, errs := parallelGets(base+"/echo", 50); ok != 50 {
				t.Errorf("port-forward after connections the pod reset: %d of 50 answered; errors %v", ok, errs)
			}
			if cmd.ProcessState != nil {
				t.Errorf("kubectl port-forward ended")
			}
		})
	}
}
