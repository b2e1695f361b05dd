package uptest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/drover-ci/drover/internal/proctest"
)

// makeUp runs scripts/up.sh (what `make up` runs) on a fresh data dir with the given
// DROVER_JENKINS mode and drover up flags of its own, and returns its combined output as it
// grows; the script is interrupted (Ctrl-C) when the test ends.
func makeUp(t *testing.T, mode, node, network string, args ...string) (output func() string, done <-chan struct{}) {
	t.Helper()
	if os.Getenv("DOCKER_HOST") == "" {
		RequireE2E(t, "DOCKER_HOST is not set (make test sets it)")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	OwnNetwork(t, network)
	cmd := exec.Command("bash", filepath.Join(root, "scripts/up.sh"))
	cmd.Args = append(cmd.Args, append([]string{"--node-name", node, "--network", network}, args...)...)
	dataDir := filepath.Join(t.TempDir(), "data")
	cmd.Env = append(os.Environ(), "DROVER_DATA_DIR="+dataDir, "DROVER_JENKINS="+mode)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var mu sync.Mutex
	var out strings.Builder
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s := bufio.NewScanner(pr)
		for s.Scan() {
			mu.Lock()
			out.WriteString(s.Text() + "\n")
			mu.Unlock()
		}
	}()
	ended := make(chan struct{})
	go func() { _ = cmd.Wait(); pw.Close(); close(ended) }()
	output = func() string { mu.Lock(); defer mu.Unlock(); return out.String() }
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		select {
		case <-ended:
		case <-time.After(60 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-ended
		}
		if t.Failed() {
			t.Logf("scripts/up.sh output:\n%s", output())
		}
		// drover up leaves its pods' containers running when it stops (a restart adopts them).
		ids, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=drover.io/node="+node).Output()
		if f := strings.Fields(string(ids)); len(f) > 0 {
			_ = exec.Command("docker", append([]string{"rm", "-f"}, f...)...).Run()
		}
		proctest.UnmountUnder(dataDir) // the pods' secret volumes (tmpfs), kept for their containers
	})
	return output, ended
}

// TestMakeUpRunsJenkins: `make up` with the local stand-in images on a fresh data dir brings
// up Jenkins and its cloud, prints where Jenkins answers, the admin user and the command that
// prints the password; with those alone a build runs on an agent pod and succeeds.
func TestMakeUpRunsJenkins(t *testing.T) {
	if testing.Short() {
		t.Skip("runs make up")
	}
	out, ended := makeUp(t, "local", fmt.Sprintf("makeup-%d", os.Getpid()), "drover-makeup", "--listen", "127.0.0.1:0", "--subnet", "10.185.0.0/16", "--service-cidr", "10.186.0.0/16",
		"--cluster-dns", "10.186.0.10", "--node-port-range", "32500-32549")
	var url, user, passwordCmd string
	deadline := time.Now().Add(6 * time.Minute)
	for url == "" || user == "" || passwordCmd == "" {
		select {
		case <-ended:
			t.Fatalf("scripts/up.sh ended before printing the Jenkins URL")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("scripts/up.sh printed no Jenkins URL, user and password command within 6 minutes")
		}
		time.Sleep(time.Second)
		text := out()
		url = firstMatch(text, `Jenkins URL:\s+(http://\S+)`)
		user = firstMatch(text, `admin user:\s+(\S+)`)
		passwordCmd = firstMatch(text, `password:\s+(bin/drover .*jenkins password)`)
	}
	root, _ := filepath.Abs("../..")
	pw, err := exec.Command("bash", "-c", "cd "+root+" && "+passwordCmd).Output()
	if err != nil {
		t.Fatalf("the printed password command %q: %v", passwordCmd, err)
	}
	j := &browserJenkins{base: strings.TrimSuffix(url, "/"), user: user, password: strings.TrimSpace(string(pw))}
	j.post(t, "/createItem?name=hello", "application/xml", `<?xml version='1.1' encoding='UTF-8'?>
<project><assignedNode>docker</assignedNode><builders><hudson.tasks.Shell><command>echo hello from make up</command></hudson.tasks.Shell></builders></project>`)
	j.post(t, "/job/hello/build?delay=0sec", "", "")
	Eventually(t, 3*time.Minute, "build hello #1 SUCCESS on an agent pod", func() bool {
		var b struct {
			Building bool   `json:"building"`
			Result   string `json:"result"`
			BuiltOn  string `json:"builtOn"`
		}
		body, code := j.get(t, "/job/hello/1/api/json")
		if code != http.StatusOK || json.Unmarshal(body, &b) != nil || b.Building || b.Result == "" {
			return false
		}
		if b.Result != "SUCCESS" || b.BuiltOn == "" {
			t.Fatalf("build hello #1: %s on %q", b.Result, b.BuiltOn)
		}
		return true
	})
	// The printed "a build end to end" command (what make demo runs) shows the whole story.
	demoCmd := firstMatch(out(), `a build end to end:\s+(bin/drover .*jenkins demo)`)
	if demoCmd == "" {
		t.Fatalf("no demo command printed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	demo, err := exec.CommandContext(ctx, "bash", "-c", "cd "+root+" && "+demoCmd).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", demoCmd, err, demo)
	}
	for _, want := range []string{"queued build #1", "agent pod ", "build #1: SUCCESS on ", "hello from ", ": gone", "demo done"} {
		if !strings.Contains(string(demo), want) {
			t.Errorf("drover jenkins demo output lacks %q:\n%s", want, demo)
		}
	}
}

// TestMakeUpWithoutJenkins: DROVER_JENKINS=none brings up the orchestrator alone.
func TestMakeUpWithoutJenkins(t *testing.T) {
	if testing.Short() {
		t.Skip("runs make up")
	}
	out, ended := makeUp(t, "none", fmt.Sprintf("makeup-none-%d", os.Getpid()), "drover-makeup-none", "--listen", "127.0.0.1:0", "--subnet", "10.187.0.0/16", "--service-cidr", "10.188.0.0/16",
		"--cluster-dns", "10.188.0.10", "--node-port-range", "32550-32599")
	Eventually(t, 2*time.Minute, "drover up's node running pods", func() bool {
		select {
		case <-ended:
			t.Fatalf("scripts/up.sh ended:\n%s", out())
		default:
		}
		return strings.Contains(out(), "running pods on docker")
	})
	if strings.Contains(out(), "Jenkins") && !strings.Contains(out(), "examples/walkthrough") {
		t.Errorf("DROVER_JENKINS=none mentions Jenkins:\n%s", out())
	}
	if strings.Contains(out(), "drover jenkins install") {
		t.Errorf("DROVER_JENKINS=none installed Jenkins:\n%s", out())
	}
}

func firstMatch(text, re string) string {
	if m := regexp.MustCompile(re).FindStringSubmatch(text); m != nil {
		return strings.TrimSpace(m[1])
	}
	return ""
}

// browserJenkins talks to Jenkins as a person with a password does: POSTs carry a crumb, which
// Jenkins binds to the session cookie it was issued with.
type browserJenkins struct {
	base, user, password string
	crumbField, crumb    string
	client               *http.Client
}

func (j *browserJenkins) do(t *testing.T, method, path, ctype, body string) ([]byte, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, j.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(j.user, j.password)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if method == http.MethodPost {
		if j.crumb == "" {
			b, code := j.do(t, http.MethodGet, "/crumbIssuer/api/json", "", "")
			var c struct {
				Crumb             string `json:"crumb"`
				CrumbRequestField string `json:"crumbRequestField"`
			}
			if code != http.StatusOK || json.Unmarshal(b, &c) != nil {
				t.Fatalf("crumb: HTTP %d %s", code, b)
			}
			j.crumbField, j.crumb = c.CrumbRequestField, c.Crumb
		}
		req.Header.Set(j.crumbField, j.crumb)
	}
	if j.client == nil {
		jar, _ := cookiejar.New(nil)
		j.client = &http.Client{Jar: jar}
	}
	resp, err := j.client.Do(req)
	if err != nil {
		return nil, 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b, resp.StatusCode
}

func (j *browserJenkins) get(t *testing.T, path string) ([]byte, int) {
	return j.do(t, http.MethodGet, path, "", "")
}

func (j *browserJenkins) post(t *testing.T, path, ctype, body string) {
	t.Helper()
	var b []byte
	var code int
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Second) {
		if b, code = j.do(t, http.MethodPost, path, ctype, body); code/100 == 2 {
			return
		}
		t.Logf("POST %s: HTTP %d %.200s", path, code, b)
		if time.Now().After(deadline) {
			t.Fatalf("POST %s: HTTP %d %s", path, code, b)
		}
		if code == http.StatusForbidden {
			j.crumb = "" // a crumb from a session Jenkins no longer has: ask again
		}
	}
}
