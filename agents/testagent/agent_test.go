package testagent_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drover-ci/drover/agents/testagent"
	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest"

	"github.com/drover-ci/drover/internal/logtest"
)

// The agent connects with the node's secret, over TCP and over WebSocket;
// the node is online while it is connected and offline once it stops.
func TestConnectRightSecret(t *testing.T) {
	for _, ws := range []bool{false, true} {
		t.Run(map[bool]string{false: "tcp", true: "websocket"}[ws], func(t *testing.T) {
			s := fake(t)
			createNode(t, s, "n1", "docker")
			if online(s, "n1") {
				t.Fatal("online before any agent")
			}
			_, out, stop := runAgent(t, testagent.Config{URL: s.URL(), Name: "n1", Secret: s.Secret("n1"), WebSocket: ws})
			waitFor(t, "n1 online", 10*time.Second, func() bool { return online(s, "n1") })
			waitFor(t, "the agent's log line", 5*time.Second, func() bool { return strings.Contains(out.String(), "connected as n1") })
			stop()
			waitFor(t, "n1 offline after the agent stopped", 10*time.Second, func() bool { return !online(s, "n1") })
		})
	}
}

// A wrong secret (or an unknown node) is refused: Run ends with a rejection
// at once and the node stays offline.
func TestConnectWrongSecret(t *testing.T) {
	for _, ws := range []bool{false, true} {
		s := fake(t)
		createNode(t, s, "n1", "docker")
		for _, c := range []testagent.Config{
			{URL: s.URL(), Name: "n1", Secret: s.Secret("other"), WebSocket: ws},
			{URL: s.URL(), Name: "nobody", Secret: s.Secret("nobody"), WebSocket: ws},
		} {
			c.RetryFor = time.Minute // a rejection must not be retried
			errc, _, _ := runAgent(t, c)
			select {
			case err := <-errc:
				if err == nil || !testagent.IsRejected(err) {
					t.Errorf("websocket=%v name=%s: Run = %v, want a rejection", ws, c.Name, err)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("websocket=%v name=%s: Run still trying", ws, c.Name)
			}
		}
		if online(s, "n1") {
			t.Errorf("websocket=%v: n1 online with a wrong secret", ws)
		}
	}
}

// The program refuses a wrong secret with a non-zero exit, as the real agent.
func TestBinaryWrongSecretExitsNonZero(t *testing.T) {
	s := fake(t)
	createNode(t, s, "n1", "")
	cmd := exec.Command(agentBinary(t))
	cmd.Env = append(os.Environ(), "JENKINS_URL="+s.URL(), "JENKINS_SECRET=wrong", "JENKINS_AGENT_NAME=n1",
		"JENKINS_AGENT_WORKDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "Authorization failure") {
		t.Errorf("exit %v, output:\n%s", err, out)
	}
}

// Queued builds on the agent's label run there and end SUCCESS or FAILURE
// per their shell steps, with /bin/sh and with the built-in interpreter.
func TestBuildsRunOnTheAgent(t *testing.T) {
	for _, shell := range []string{"", "builtin"} {
		t.Run("shell="+shell, func(t *testing.T) {
			s := fake(t)
			createNode(t, s, "a1", "docker linux")
			createJob(t, s, "ok", "docker && linux", "echo 'hello world'; sleep 0.1 && true\necho done on ${NODE_NAME} build-$BUILD_NUMBER")
			createJob(t, s, "bad", "docker", "echo before; exit 3; echo never")
			createJob(t, s, "elsewhere", "windows", "true")
			trigger(t, s, "ok")
			trigger(t, s, "bad")
			trigger(t, s, "elsewhere")
			runAgent(t, testagent.Config{URL: s.URL(), Name: "a1", Secret: s.Secret("a1"), Shell: shell})
			if r, on := waitResult(t, s, "ok", 1); r != "SUCCESS" || on != "a1" {
				t.Errorf("ok #1: %s on %q", r, on)
			}
			if r, _ := waitResult(t, s, "bad", 1); r != "FAILURE" {
				t.Errorf("bad #1: %s", r)
			}
			_, text := call(t, s, "GET", "/job/ok/1/consoleText", "", "")
			if !strings.Contains(text, "\nhello world\n") || !strings.Contains(text, "\ndone on a1 build-1\n") || !strings.HasSuffix(text, "Finished: SUCCESS\n") {
				t.Errorf("ok console:\n%s", text)
			}
			_, text = call(t, s, "GET", "/job/bad/1/consoleText", "", "")
			if !strings.Contains(text, "before") || strings.Contains(text, "never") || !strings.HasSuffix(text, "Finished: FAILURE\n") {
				t.Errorf("bad console:\n%s", text)
			}
			if _, ok := build(t, s, "elsewhere", 1); ok {
				t.Error("a job on another label ran")
			}
			// A build triggered while the agent is idle is picked up by the
			// fake's queue maintenance (no queue read needed).
			trigger(t, s, "ok")
			if r, _ := waitResult(t, s, "ok", 2); r != "SUCCESS" {
				t.Errorf("ok #2: %s", r)
			}
		})
	}
}

// Killing the agent process mid-build takes its node offline and fails the
// build, as a real agent's channel closing does.
func TestKillAgentFailsRunningBuild(t *testing.T) {
	s := fake(t)
	createNode(t, s, "k1", "docker")
	createJob(t, s, "long", "docker", "echo started; sleep 60")
	trigger(t, s, "long")
	cmd := exec.Command(agentBinary(t), "-url", s.URL(), s.Secret("k1"), "k1")
	cmd.Env = append(os.Environ(), "JENKINS_AGENT_WORKDIR="+t.TempDir())
	out := &logtest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitFor(t, "long #1 running with its first line logged", 20*time.Second, func() bool {
		b, ok := build(t, s, "long", 1)
		_, text := call(t, s, "GET", "/job/long/1/consoleText", "", "")
		return ok && b.Building && strings.Contains(text, "started")
	})
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "k1 offline", 10*time.Second, func() bool { return !online(s, "k1") })
	if r, on := waitResult(t, s, "long", 1); r != "FAILURE" || on != "k1" {
		t.Errorf("long #1 after the kill: %s on %q", r, on)
	}
	t.Logf("agent output:\n%s", out)
}

// SIGTERM disconnects too, and the program exits 143.
func TestTermAgentExits143(t *testing.T) {
	s := fake(t)
	createNode(t, s, "t1", "")
	cmd := exec.Command(agentBinary(t))
	cmd.Env = append(os.Environ(), "JENKINS_URL="+s.URL(), "JENKINS_SECRET="+s.Secret("t1"), "JENKINS_AGENT_NAME=t1",
		"JENKINS_AGENT_WORKDIR="+t.TempDir(), "JENKINS_WEB_SOCKET=true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	waitFor(t, "t1 online", 20*time.Second, func() bool { return online(s, "t1") })
	_ = cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 143 {
		t.Errorf("exit after SIGTERM: %v, want 143", err)
	}
	waitFor(t, "t1 offline", 10*time.Second, func() bool { return !online(s, "t1") })
}

// The java command lines of DESIGN §7 work with the controller's agent.jar
// and fail with a missing or foreign jar (agent injection must fetch it).
func TestJavaCommandLines(t *testing.T) {
	s := fake(t)
	code, jar := call(t, s, "GET", "/jnlpJars/agent.jar", "", "")
	if code != 200 || jar != string(jenkinstest.AgentJar()) {
		t.Fatalf("agent.jar: %d, %d bytes", code, len(jar))
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "agent.jar")
	bad := filepath.Join(dir, "other.jar")
	_ = os.WriteFile(good, []byte(jar), 0o644)
	_ = os.WriteFile(bad, []byte("PK\x03\x04 something else"), 0o644)
	secretFile := filepath.Join(dir, "secret")
	_ = os.WriteFile(secretFile, []byte(s.Secret("j2")+"\n"), 0o600)
	createNode(t, s, "j1", "")
	createNode(t, s, "j2", "")
	createNode(t, s, "j3", "")
	work := t.TempDir()
	env := func(string) string { return "" }
	for _, c := range []struct {
		node string
		args []string
	}{
		{"j1", []string{"-Xmx64m", "-jar", good, "-jnlpUrl", s.URL() + "/computer/j1/jenkins-agent.jnlp", "-secret", s.Secret("j1"), "-workDir", work}},
		{"j2", []string{"-jar", good, "-jnlpUrl", s.URL() + "/computer/j2/jenkins-agent.jnlp", "-secret", "@" + secretFile, "-workDir", work}},
		{"j3", []string{"-cp", good, "hudson.remoting.jnlp.Main", "-headless", "-url", s.URL() + "/", "-webSocket", "-workDir", work, s.Secret("j3"), "j3"}},
	} {
		cfg, err := testagent.ParseArgs("/usr/bin/java", c.args, env)
		if err != nil {
			t.Fatalf("%s: %v", c.node, err)
		}
		runAgent(t, cfg)
		waitFor(t, c.node+" online", 10*time.Second, func() bool { return online(s, c.node) })
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-jar", filepath.Join(dir, "missing.jar"), "-jnlpUrl", s.URL() + "/computer/j1/jenkins-agent.jnlp"}, "Unable to access jarfile"},
		{[]string{"-jar", bad, "-jnlpUrl", s.URL() + "/computer/j1/jenkins-agent.jnlp"}, "Invalid or corrupt jarfile"},
	} {
		cfg, err := testagent.ParseArgs("java", c.args, env)
		if err == nil {
			err = testagent.Run(t.Context(), cfg)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || !testagent.IsRejected(err) {
			t.Errorf("java %q: %v, want %q", c.args, err, c.want)
		}
	}
	// agent.jar has no -url/-name form in remoting 3071.
	if _, err := testagent.ParseArgs("java", []string{"-jar", good, "-url", s.URL(), "-name", "j1", "-secret", "x"}, env); err == nil ||
		!strings.Contains(err.Error(), `"-url" is not a valid option`) {
		t.Errorf("java -jar agent.jar -url … -name …: %v", err)
	}
}

// The inbound-agent entrypoint's positional form overrides the environment.
func TestEntrypointArgs(t *testing.T) {
	env := map[string]string{"JENKINS_URL": "http://env:8080", "JENKINS_SECRET": "envsecret", "JENKINS_AGENT_NAME": "envname",
		"JENKINS_TUNNEL": "jenkins-agent:50000"}
	cfg, err := testagent.ParseArgs("/usr/local/bin/jenkins-agent", []string{"-url", "http://arg:8080", "s3cret", "argname"},
		func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.URL != "http://arg:8080" || cfg.Secret != "s3cret" || cfg.Name != "argname" || cfg.Tunnel != "jenkins-agent:50000" ||
		cfg.WebSocket || cfg.WorkDir != "/home/jenkins/agent" {
		t.Errorf("config %+v", cfg)
	}
	if _, err := testagent.ParseArgs("jenkins-agent", nil, func(string) string { return "" }); err == nil {
		t.Error("no URL, secret or name accepted")
	}
}

// JENKINS_TUNNEL replaces the advertised port (here one nobody serves).
func TestTunnel(t *testing.T) {
	s, err := jenkinstest.Start(jenkinstest.Options{AutoStart: true, AgentPort: 1,
		Users: []jenkinstest.User{{Name: admin, Token: token}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	createNode(t, s, "tn", "")
	errc, _, _ := runAgent(t, testagent.Config{URL: s.URL(), Name: "tn", Secret: s.Secret("tn"), RetryFor: 500 * time.Millisecond})
	if err := <-errc; err == nil || testagent.IsRejected(err) {
		t.Errorf("without the tunnel: %v, want a connection failure", err)
	}
	_, port, _ := strings.Cut(s.AgentListenAddr(), ":")
	runAgent(t, testagent.Config{URL: s.URL(), Name: "tn", Secret: s.Secret("tn"), Tunnel: ":" + port})
	waitFor(t, "tn online through the tunnel", 10*time.Second, func() bool { return online(s, "tn") })
}

// A controller restarted on the same addresses (state kept) gets its agent
// back: the agent reconnects by itself and takes new builds.
func TestReconnectAfterControllerRestart(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	opts := jenkinstest.Options{AutoStart: true, StateFile: state, Users: []jenkinstest.User{{Name: admin, Token: token}}}
	s1, err := jenkinstest.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	createNode(t, s1, "rc", "r")
	createJob(t, s1, "rj", "r", "true")
	_, out, _ := runAgent(t, testagent.Config{URL: s1.URL(), Name: "rc", Secret: s1.Secret("rc"), RetryFor: 30 * time.Second})
	waitFor(t, "rc online", 10*time.Second, func() bool { return online(s1, "rc") })
	opts.Addr, opts.AgentAddr = strings.TrimPrefix(s1.URL(), "http://"), s1.AgentListenAddr()
	s1.Close()

	s2, err := jenkinstest.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s2.Close)
	waitFor(t, "rc online again", 20*time.Second, func() bool { return online(s2, "rc") })
	trigger(t, s2, "rj")
	if r, on := waitResult(t, s2, "rj", 1); r != "SUCCESS" || on != "rc" {
		t.Errorf("rj #1: %s on %q", r, on)
	}
	if strings.Count(out.String(), "connected as rc") != 2 {
		t.Errorf("agent output:\n%s", out)
	}
}

// With -noReconnect the agent ends (non-nil error) when the connection drops.
func TestNoReconnect(t *testing.T) {
	s := fake(t)
	createNode(t, s, "nr", "")
	errc, _, _ := runAgent(t, testagent.Config{URL: s.URL(), Name: "nr", Secret: s.Secret("nr"), NoReconnect: true})
	waitFor(t, "nr online", 10*time.Second, func() bool { return online(s, "nr") })
	if err := s.DisconnectAgent("nr"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if err == nil || testagent.IsRejected(err) {
			t.Errorf("Run after the drop: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("agent still running after the connection dropped")
	}
}

// POST /job/J/N/stop aborts a running build: ABORTED, and the agent kills it
// and stays connected for the next build.
func TestStopBuild(t *testing.T) {
	s := fake(t)
	createNode(t, s, "sb", "x")
	createJob(t, s, "forever", "x", "echo go; sleep 600")
	trigger(t, s, "forever")
	_, out, _ := runAgent(t, testagent.Config{URL: s.URL(), Name: "sb", Secret: s.Secret("sb")})
	waitFor(t, "forever #1 started", 10*time.Second, func() bool {
		_, text := call(t, s, "GET", "/job/forever/1/consoleText", "", "")
		return strings.Contains(text, "go")
	})
	if code, _ := call(t, s, "POST", "/job/forever/1/stop", "", ""); code != 302 {
		t.Fatalf("stop: %d", code)
	}
	if r, _ := waitResult(t, s, "forever", 1); r != "ABORTED" {
		t.Errorf("forever #1: %s", r)
	}
	waitFor(t, "the agent to kill the build", 10*time.Second, func() bool {
		return strings.Contains(out.String(), "build forever #1 finished: ABORTED")
	})
	trigger(t, s, "forever")
	waitFor(t, "forever #2 started on the same agent", 10*time.Second, func() bool {
		b, ok := build(t, s, "forever", 2)
		return ok && b.Building && online(s, "sb")
	})
}
