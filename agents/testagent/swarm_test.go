package testagent_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-ci/drover/agents/testagent"
	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest"

	"github.com/drover-ci/drover/internal/logtest"
)

// A swarm client registers through /plugin/swarm/createSlave with the
// admin's API token, gets a NAME-HASH node with its labels, connects with
// that node's secret and runs a build on its label.
func TestSwarmRegistration(t *testing.T) {
	s := fake(t)
	createJob(t, s, "sw", "swarm-x", "echo from swarm")
	trigger(t, s, "sw")
	cfg, err := testagent.ParseArgs("swarm-client", []string{"-url", s.URL() + "/", "-name", "pool", "-labels", "swarm-x linux",
		"-executors", "1", "-fsroot", t.TempDir(), "-mode", "exclusive", "-username", admin, "-passwordEnvVariable", "TOKEN",
		"-webSocket"}, func(k string) string { return map[string]string{"TOKEN": token}[k] })
	if err != nil {
		t.Fatal(err)
	}
	_, out, _ := runAgent(t, cfg)
	r, on := waitResult(t, s, "sw", 1)
	if r != "SUCCESS" || !strings.HasPrefix(on, "pool-") || len(on) != len("pool-")+8 {
		t.Errorf("sw #1: %s on %q, want SUCCESS on pool-HASH", r, on)
	}
	n, ok := s.Node(on)
	if !ok || !n.Connected || strings.Join(n.Labels, " ") != "swarm-x linux" || n.Mode != "EXCLUSIVE" || n.Executors != 1 {
		t.Errorf("node %+v", n)
	}
	if !strings.Contains(out.String(), "registered with the swarm plugin as "+on) {
		t.Errorf("output:\n%s", out)
	}
	// Same name and fsroot, no unique id: the online node is not trampled (409).
	cfg2 := cfg
	sw := *cfg.Swarm
	sw.DisableUniqueID = true
	sw.Name = on
	cfg2.Swarm = &sw
	cfg2.RetryFor = time.Minute
	errc, _, _ := runAgent(t, cfg2)
	if err := <-errc; !testagent.IsRejected(err) || !strings.Contains(err.Error(), "already created and on-line") {
		t.Errorf("second client with the same name: %v", err)
	}
}

// Without credentials the swarm plugin refuses to create a node.
func TestSwarmAnonymousRefused(t *testing.T) {
	s := fake(t)
	cfg, err := testagent.ParseArgs("swarm-client", []string{"-url", s.URL(), "-name", "anon"}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	errc, _, _ := runAgent(t, cfg)
	if err := <-errc; !testagent.IsRejected(err) || !strings.Contains(err.Error(), "403") {
		t.Errorf("anonymous swarm client: %v", err)
	}
	if st := s.Snapshot(); len(st.Nodes) != 0 {
		t.Errorf("nodes %+v", st.Nodes)
	}
}

// `java -jar swarm-client.jar …` is the swarm client too (the program as /usr/bin/java).
func TestSwarmThroughJava(t *testing.T) {
	s := fake(t)
	jar := filepath.Join(t.TempDir(), "swarm-client.jar")
	_ = os.WriteFile(jar, jenkinstest.AgentJar(), 0o644)
	java := filepath.Join(t.TempDir(), "java")
	if err := os.Symlink(agentBinary(t), java); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(java, "-jar", jar, "-url", s.URL(), "-name", "viajava", "-disableClientsUniqueId",
		"-labels", "j", "-username", admin, "-password", token, "-fsroot", t.TempDir())
	out := &logtest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitFor(t, "viajava online", 20*time.Second, func() bool { return online(s, "viajava") })
	// Jenkins marks the node online before the client prints that it connected.
	waitFor(t, "the client saying it connected", 10*time.Second, func() bool {
		return strings.Contains(out.String(), "connected as viajava")
	})
}
