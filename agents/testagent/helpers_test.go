package testagent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/drover-ci/drover/agents/testagent"
	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest"

	"github.com/drover-ci/drover/internal/logtest"
)

const (
	admin = "admin"
	token = "tok-123"
)

// fake starts a fake Jenkins with AutoStart and an admin with an API token.
func fake(t *testing.T) *jenkinstest.Server {
	t.Helper()
	s, err := jenkinstest.Start(jenkinstest.Options{AutoStart: true,
		Users: []jenkinstest.User{{Name: admin, Token: token}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// call sends an admin request and returns status and body.
func call(t *testing.T, s *jenkinstest.Server, method, path, ctype, body string) (int, string) {
	t.Helper()
	resp, b, err := s.Do(admin, token, method, path, ctype, body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func createNode(t *testing.T, s *jenkinstest.Server, name, labels string) {
	t.Helper()
	js, _ := json.Marshal(map[string]any{"name": name, "numExecutors": "1", "remoteFS": "/home/jenkins/agent",
		"labelString": labels, "mode": "EXCLUSIVE", "type": "hudson.slaves.DumbSlave",
		"launcher": map[string]any{"stapler-class": "hudson.slaves.JNLPLauncher", "webSocket": false}})
	form := url.Values{"name": {name}, "type": {"hudson.slaves.DumbSlave"}, "json": {string(js)}}.Encode()
	if code, body := call(t, s, "POST", "/computer/doCreateItem", "application/x-www-form-urlencoded", form); code != http.StatusFound {
		t.Fatalf("doCreateItem %s: %d %s", name, code, body)
	}
}

// createJob creates a freestyle job on label running command with a shell builder.
func createJob(t *testing.T, s *jenkinstest.Server, name, label, command string) {
	t.Helper()
	cfg := "<project><assignedNode>" + html.EscapeString(label) + "</assignedNode><concurrentBuild>true</concurrentBuild>" +
		"<builders><hudson.tasks.Shell><command>" + html.EscapeString(command) + "</command></hudson.tasks.Shell></builders></project>"
	if code, body := call(t, s, "POST", "/createItem?name="+name, "application/xml", cfg); code != 200 {
		t.Fatalf("createItem %s: %d %s", name, code, body)
	}
}

func trigger(t *testing.T, s *jenkinstest.Server, job string) {
	t.Helper()
	if code, body := call(t, s, "POST", "/job/"+job+"/build?delay=0sec", "", ""); code != http.StatusCreated {
		t.Fatalf("build %s: %d %s", job, code, body)
	}
}

type buildInfo struct {
	Building bool    `json:"building"`
	Result   *string `json:"result"`
	BuiltOn  string  `json:"builtOn"`
}

// build reads GET /job/J/N/api/json; ok is false while it does not exist.
func build(t *testing.T, s *jenkinstest.Server, job string, n int) (buildInfo, bool) {
	t.Helper()
	code, body := call(t, s, "GET", fmt.Sprintf("/job/%s/%d/api/json?tree=building,result,builtOn", job, n), "", "")
	var b buildInfo
	if code != 200 {
		return b, false
	}
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatalf("build json %q: %v", body, err)
	}
	return b, true
}

// waitResult waits for build job #n to end and returns its result and node.
func waitResult(t *testing.T, s *jenkinstest.Server, job string, n int) (string, string) {
	t.Helper()
	var b buildInfo
	waitFor(t, fmt.Sprintf("build %s #%d to end", job, n), 30*time.Second, func() bool {
		var ok bool
		b, ok = build(t, s, job, n)
		return ok && !b.Building && b.Result != nil
	})
	return *b.Result, b.BuiltOn
}

func online(s *jenkinstest.Server, node string) bool {
	n, ok := s.Node(node)
	return ok && n.Connected
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runAgent runs the agent in-process until the test ends; the channel
// receives Run's result.
func runAgent(t *testing.T, cfg testagent.Config) (<-chan error, *logtest.Buffer, context.CancelFunc) {
	t.Helper()
	out := &logtest.Buffer{}
	cfg.Out = out
	if cfg.WorkDir == "" {
		cfg.WorkDir = t.TempDir()
	}
	if cfg.RetryFor == 0 {
		cfg.RetryFor = 5 * time.Second
	}
	cfg.RetryEvery = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	done := make(chan struct{})
	go func() { errc <- testagent.Run(ctx, cfg); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("agent did not stop")
		}
		if t.Failed() {
			t.Logf("agent output:\n%s", out)
		}
	})
	return errc, out, cancel
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// agentBinary builds cmd/jenkins-agent once (CGO_ENABLED=0) and returns its path.
func agentBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "testagent-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "jenkins-agent")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/jenkins-agent")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}
