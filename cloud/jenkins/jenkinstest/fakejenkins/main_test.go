package main_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drover-ci/drover/agents/testagent"
)

// fakeJenkins is a running fakejenkins process.
type fakeJenkins struct {
	cmd  *exec.Cmd
	base string
	out  *os.File
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fakejenkins")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func start(t *testing.T, bin, home string, env ...string) *fakeJenkins {
	t.Helper()
	addr := freePort(t)
	out, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	// The admin's credentials as files, as charts/jenkins mounts the Secret jenkins-admin.
	admin := t.TempDir()
	for k, v := range map[string]string{"user": "boss", "token": "t0k"} {
		if err := os.WriteFile(filepath.Join(admin, k), []byte(v), 0o400); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "JENKINS_HOME="+home, "FAKE_JENKINS_ADMIN_DIR="+admin,
		"FAKE_JENKINS_HTTP="+addr, "FAKE_JENKINS_AGENT="+freePort(t))
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f := &fakeJenkins{cmd: cmd, base: "http://" + addr, out: out}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(out.Name())
			t.Logf("fakejenkins log:\n%s", b)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, _ := f.do(t, "GET", "/login", "", ""); code == 200 {
			return f
		}
		if time.Now().After(deadline) {
			t.Fatal("fakejenkins /login never answered 200")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (f *fakeJenkins) do(t *testing.T, method, path, ctype, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, f.base+path, strings.NewReader(body))
	req.SetBasicAuth("boss", "t0k")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("X-Jenkins") != "2.376" {
		t.Errorf("%s %s: X-Jenkins %q", method, path, resp.Header.Get("X-Jenkins"))
	}
	return resp.StatusCode, string(b)
}

// secret reads node's secret from its jnlp file.
func (f *fakeJenkins) secret(t *testing.T, node string) string {
	t.Helper()
	_, body := f.do(t, "GET", "/computer/"+node+"/jenkins-agent.jnlp", "", "")
	var doc struct {
		Args []string `xml:"application-desc>argument"`
	}
	if err := xml.Unmarshal([]byte(body), &doc); err != nil || len(doc.Args) < 2 {
		t.Fatalf("jnlp %q: %v", body, err)
	}
	return doc.Args[0]
}

// agent runs the test agent in-process for node until the returned stop is called.
func (f *fakeJenkins) agent(t *testing.T, node string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	cfg := testagent.Config{URL: f.base, Name: node, Secret: f.secret(t, node), WorkDir: t.TempDir(),
		Out: io.Discard, RetryFor: 5 * time.Second, RetryEvery: 100 * time.Millisecond}
	go func() { defer close(done); _ = testagent.Run(ctx, cfg) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

func (f *fakeJenkins) waitResult(t *testing.T, job string, n int, want string) {
	t.Helper()
	path := fmt.Sprintf("/job/%s/%d/api/json?tree=result,building", job, n)
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := f.do(t, "GET", path, "", "")
		if code == 200 && strings.Contains(body, `"result":"`+want+`"`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s #%d: %d %s, want result %s", job, n, code, body, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Nodes, jobs, builds, build numbers and the queue survive a restart, even
// after SIGKILL: the state file is written before each change is answered.
func TestStateSurvivesRestart(t *testing.T) {
	bin := build(t)
	home := t.TempDir()
	f := start(t, bin, home)
	js, _ := json.Marshal(map[string]any{"name": "n1", "numExecutors": "1", "remoteFS": "/home/jenkins/agent",
		"labelString": "docker", "mode": "EXCLUSIVE", "type": "hudson.slaves.DumbSlave",
		"launcher": map[string]any{"stapler-class": "hudson.slaves.JNLPLauncher"}})
	form := url.Values{"name": {"n1"}, "type": {"hudson.slaves.DumbSlave"}, "json": {string(js)}}.Encode()
	if code, body := f.do(t, "POST", "/computer/doCreateItem", "application/x-www-form-urlencoded", form); code != 302 {
		t.Fatalf("doCreateItem: %d %s", code, body)
	}
	cfg := "<project><assignedNode>docker</assignedNode><concurrentBuild>true</concurrentBuild><builders><hudson.tasks.Shell><command>true</command></hudson.tasks.Shell></builders></project>"
	if code, body := f.do(t, "POST", "/createItem?name=j", "application/xml", cfg); code != 200 {
		t.Fatalf("createItem: %d %s", code, body)
	}
	trigger := func(f *fakeJenkins) {
		if code, _ := f.do(t, "POST", "/job/j/build?delay=0sec", "", ""); code != 201 {
			t.Fatalf("build: %d", code)
		}
	}
	trigger(f)
	trigger(f)
	stop := f.agent(t, "n1")
	f.waitResult(t, "j", 1, "SUCCESS")
	f.waitResult(t, "j", 2, "SUCCESS")
	stop()
	trigger(f) // queued: no agent now
	secret := f.secret(t, "n1")
	if err := f.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = f.cmd.Wait()

	g := start(t, bin, home)
	code, body := g.do(t, "GET", "/computer/n1/api/json?tree=offline,assignedLabels[name]", "", "")
	if code != 200 || !strings.Contains(body, `"offline":true`) || !strings.Contains(body, `"name":"docker"`) {
		t.Errorf("n1 after restart: %d %s", code, body)
	}
	if got := g.secret(t, "n1"); got != secret {
		t.Errorf("secret changed across the restart: %s → %s", secret, got)
	}
	g.waitResult(t, "j", 2, "SUCCESS")
	_, body = g.do(t, "GET", "/queue/api/json?tree=items[id,task[name]]", "", "")
	if !strings.Contains(body, `"id":3`) || strings.Count(body, `"name":"j"`) != 1 {
		t.Errorf("queue after restart: %s", body)
	}
	g.agent(t, "n1")
	g.waitResult(t, "j", 3, "SUCCESS") // the number after the two builds before the restart
}

// FAKE_JENKINS_NO_INSTANCE_IDENTITY=true: the listener offers Ping only and
// no identity; a TCP agent is refused, a WebSocket agent connects.
func TestNoInstanceIdentityEnv(t *testing.T) {
	f := start(t, build(t), t.TempDir(), "FAKE_JENKINS_NO_INSTANCE_IDENTITY=true")
	resp, err := http.Get(f.base + "/tcpSlaveAgentListener/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Jenkins-Agent-Protocols") != "Ping" || resp.Header.Get("X-Instance-Identity") != "" {
		t.Errorf("listener headers: %v", resp.Header)
	}
	js, _ := json.Marshal(map[string]any{"name": "n1", "numExecutors": "1", "remoteFS": "/home/jenkins/agent",
		"labelString": "", "mode": "NORMAL", "type": "hudson.slaves.DumbSlave",
		"launcher": map[string]any{"stapler-class": "hudson.slaves.JNLPLauncher", "webSocket": true}})
	form := url.Values{"name": {"n1"}, "type": {"hudson.slaves.DumbSlave"}, "json": {string(js)}}.Encode()
	if code, body := f.do(t, "POST", "/computer/doCreateItem", "application/x-www-form-urlencoded", form); code != 302 {
		t.Fatalf("doCreateItem: %d %s", code, body)
	}
	cfg := testagent.Config{URL: f.base, Name: "n1", Secret: f.secret(t, "n1"), WorkDir: t.TempDir(), Out: io.Discard,
		RetryFor: time.Second, RetryEvery: 100 * time.Millisecond}
	if err := testagent.Run(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "invalid X-Instance-Identity") {
		t.Errorf("TCP agent: %v", err)
	}
	cfg.WebSocket = true
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- testagent.Run(ctx, cfg) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, body := f.do(t, "GET", "/computer/n1/api/json?tree=offline", "", ""); strings.Contains(body, `"offline":false`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the WebSocket agent never came online")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
