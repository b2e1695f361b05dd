package streame2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-ci/drover/internal/uptest"
)

// drover runs the drover binary's client verbs against env.
func drover(env *uptest.Env, stdin string, args ...string) (string, string, int) {
	cmd := exec.Command(env.Drover, append([]string{"--kubeconfig", env.Kubeconfig}, args...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), errOut.String(), ee.ExitCode()
	}
	if err != nil {
		return out.String(), errOut.String() + err.Error(), -1
	}
	return out.String(), errOut.String(), 0
}

// testDroverVerbs: drover exec (exit code, streams, stdin), cp both ways, port-forward and
// jenkins open, for people without kubectl.
func testDroverVerbs(t *testing.T, env *uptest.Env) {
	out, errOut, code := drover(env, "", "exec", "two", "-c", "a", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
	if out != "out\n" || !strings.HasPrefix(errOut, "err\n") || code != 3 {
		t.Errorf("drover exec: stdout %q stderr %q exit %d; want out, err, 3", out, errOut, code)
	}
	if out, errOut, code := drover(env, "round\ntrip\n", "exec", "-i", "two", "-c", "a", "--", "cat"); out != "round\ntrip\n" || code != 0 {
		t.Errorf("drover exec -i cat: %q %q %d", out, errOut, code)
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	data := make([]byte, 3<<20)
	rand.Read(data)
	os.WriteFile(file, data, 0o644)
	os.MkdirAll(filepath.Join(dir, "tree", "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "tree", "sub", "x.txt"), []byte("x\n"), 0o644)
	for _, args := range [][]string{
		{"cp", file, "two:/tmp/f", "-c", "b"},
		{"cp", "default/two:/tmp/f", filepath.Join(dir, "back"), "-c", "b"},
		{"cp", filepath.Join(dir, "tree"), "two:/tmp/dtree", "-c", "b"},
		{"cp", "two:/tmp/dtree", filepath.Join(dir, "tree2"), "-c", "b"},
	} {
		if out, errOut, code := drover(env, "", args...); code != 0 {
			t.Fatalf("drover %v: %d %s %s", args, code, out, errOut)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "back")); err != nil || !bytes.Equal(b, data) {
		t.Errorf("drover cp there and back: %d bytes, %v; want the %d sent", len(b), err, len(data))
	}
	if b, err := os.ReadFile(filepath.Join(dir, "tree2", "sub", "x.txt")); err != nil || string(b) != "x\n" {
		t.Errorf("drover cp of a tree there and back: %q, %v", b, err)
	}

	for _, args := range [][]string{{"port-forward", "svc/web", "%d:http"}, {"jenkins", "open", "-n", "default", "--port", "%d"}} {
		port := freePort(t)
		for i, a := range args {
			if strings.Contains(a, "%d") {
				args[i] = fmt.Sprintf(a, port)
			}
		}
		cmd := exec.Command(env.Drover, append([]string{"--kubeconfig", env.Kubeconfig}, args...)...)
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 10)
		go func() {
			s := bufio.NewScanner(stdout)
			for s.Scan() {
				lines <- s.Text()
			}
			close(lines)
		}()
		var first string
		select {
		case first = <-lines:
		case <-time.After(30 * time.Second):
		}
		path := "/echo"
		if args[0] == "jenkins" {
			path = "/login"
			if want := fmt.Sprintf("Jenkins: http://localhost:%d/", port); !strings.HasPrefix(first, want) {
				t.Errorf("drover jenkins open printed %q, want %q…", first, want)
			}
			if second := <-lines; !strings.HasPrefix(second, "admin user: ") {
				t.Errorf("drover jenkins open's second line %q, want the admin user", second)
			}
		}
		resp, err := http.Get(fmt.Sprintf("http://localhost:%d%s", port, path))
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("GET %s through drover %v: %v %v", path, args, resp, err)
		} else {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		cmd.Process.Kill()
		cmd.Wait()
	}
}
