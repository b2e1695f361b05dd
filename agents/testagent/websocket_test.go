package testagent_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-ci/drover/agents/testagent"
	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest"
)

const conflict = `Option "-webSocket" cannot be used with the option(s) [-direct, -tunnel]`

// remoting refuses -webSocket with -tunnel or -direct: the message on
// stderr, exit status 0, and the agent never connects (DESIGN §7).
func TestWebSocketWithTunnelIsRefusedLikeRemoting(t *testing.T) {
	s := fake(t)
	createNode(t, s, "ws", "")
	bin := agentBinary(t)
	dir := t.TempDir()
	jar := filepath.Join(dir, "agent.jar")
	if err := os.WriteFile(jar, jenkinstest.AgentJar(), 0o644); err != nil {
		t.Fatal(err)
	}
	java := filepath.Join(dir, "java")
	if err := os.Symlink(bin, java); err != nil {
		t.Fatal(err)
	}
	base := []string{"JENKINS_URL=" + s.URL(), "JENKINS_SECRET=" + s.Secret("ws"), "JENKINS_AGENT_NAME=ws",
		"JENKINS_AGENT_WORKDIR=" + t.TempDir()}
	for _, c := range []struct {
		name string
		cmd  string
		args []string
		env  []string
	}{
		{"env tunnel", bin, nil, []string{"JENKINS_WEB_SOCKET=true", "JENKINS_TUNNEL=jenkins-agent:50000"}},
		{"env direct", bin, nil, []string{"JENKINS_WEB_SOCKET=true", "JENKINS_DIRECT_CONNECTION=127.0.0.1:50000"}},
		{"flags", bin, []string{"-webSocket", "-tunnel", ":50000"}, nil},
		{"jnlp.Main", java, []string{"-cp", jar, "hudson.remoting.jnlp.Main", "-headless", "-url", s.URL() + "/",
			"-webSocket", "-tunnel", "x:1", "-workDir", dir, s.Secret("ws"), "ws"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(c.cmd, c.args...)
			cmd.Env = append(append(os.Environ(), base...), c.env...)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("exit: %v, want status 0", err)
				}
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("still running after 10 s (want an immediate refusal); stdout:\n%s", stdout.String())
			}
			if !strings.Contains(stderr.String(), conflict) {
				t.Errorf("stderr = %q, want %q", stderr.String(), conflict)
			}
			if online(s, "ws") {
				t.Error("the agent connected")
			}
		})
	}
}

// In-process: ParseArgs and Run refuse the combination with *OptionConflict;
// WebSocket alone connects.
func TestWebSocketConflictInProcess(t *testing.T) {
	env := map[string]string{"JENKINS_URL": "http://x:8080", "JENKINS_SECRET": "s", "JENKINS_AGENT_NAME": "n",
		"JENKINS_WEB_SOCKET": "true", "JENKINS_TUNNEL": "x:50000"}
	_, err := testagent.ParseArgs("jenkins-agent", nil, func(k string) string { return env[k] })
	var oc *testagent.OptionConflict
	if !errors.As(err, &oc) || oc.Message != conflict {
		t.Errorf("ParseArgs: %v, want the option conflict", err)
	}
	s := fake(t)
	createNode(t, s, "w1", "")
	errc, _, _ := runAgent(t, testagent.Config{URL: s.URL(), Name: "w1", Secret: s.Secret("w1"), WebSocket: true, Tunnel: "x:1"})
	if err := <-errc; !errors.As(err, &oc) {
		t.Errorf("Run: %v, want the option conflict", err)
	}
	runAgent(t, testagent.Config{URL: s.URL(), Name: "w1", Secret: s.Secret("w1"), WebSocket: true})
	waitFor(t, "w1 online over WebSocket", 10*time.Second, func() bool { return online(s, "w1") })
}
