package testagent_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/drover-ci/drover/internal/proctest"
	"github.com/drover-ci/drover/internal/uptest"
)

func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// dockerEngine points DOCKER_HOST at drover's private engine when unset and
// builds the test images (scripts/images.sh, idempotent).
func dockerEngine(t *testing.T) {
	t.Helper()
	proctest.UsePrivateDocker()
	if os.Getenv("DOCKER_HOST") == "" || exec.Command("docker", "version").Run() != nil {
		uptest.RequireE2E(t, "no Docker engine answers at DOCKER_HOST (scripts/docker-up.sh starts one)")
	}
	if out, err := exec.Command("bash", "../../scripts/images.sh").CombinedOutput(); err != nil {
		t.Fatalf("scripts/images.sh: %v\n%s", err, out)
	}
}

// The fake-jenkins image and the test agent image on a user-defined network:
// the agent finds the controller by container name, runs a build (with the
// built-in interpreter: the image has no shell), and a killed agent
// container leaves its node offline and its running build FAILURE. The
// controller restarted keeps its nodes (JENKINS_HOME in the container).
func TestDockerFakeJenkinsAndAgent(t *testing.T) {
	dockerEngine(t)
	id := fmt.Sprintf("drover-jt-%d", os.Getpid())
	network, ctl, agent := id, id+"-jenkins", id+"-agent"
	docker(t, "network", "create", network)
	t.Cleanup(func() {
		if t.Failed() {
			for _, c := range []string{ctl, agent} {
				out, _ := exec.Command("docker", "logs", "--tail", "40", c).CombinedOutput()
				t.Logf("docker logs %s:\n%s", c, out)
			}
		}
		_ = exec.Command("docker", "rm", "-f", ctl, agent).Run()
		_ = exec.Command("docker", "network", "rm", network).Run()
	})
	docker(t, "run", "-d", "--name", ctl, "--network", network, "--label", "drover.test="+id,
		"-e", "DROVER_ADMIN_USER="+admin, "-e", "DROVER_ADMIN_TOKEN="+token, "drover/fake-jenkins:1")
	ip := docker(t, "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", ctl)
	j := &remote{t: t, base: "http://" + ip + ":8080"}
	waitFor(t, "the controller's /login", 60*time.Second, func() bool { code, _ := j.do("GET", "/login", "", ""); return code == 200 })

	node := id + "-n1"
	js, _ := json.Marshal(map[string]any{"name": node, "numExecutors": "1", "remoteFS": "/home/jenkins/agent",
		"labelString": "e2e", "mode": "EXCLUSIVE", "type": "hudson.slaves.DumbSlave",
		"launcher": map[string]any{"stapler-class": "hudson.slaves.JNLPLauncher"}})
	form := url.Values{"name": {node}, "type": {"hudson.slaves.DumbSlave"}, "json": {string(js)}}.Encode()
	j.must(302, "POST", "/computer/doCreateItem", "application/x-www-form-urlencoded", form)
	job := func(name, cmd string) {
		j.must(200, "POST", "/createItem?name="+name, "application/xml",
			"<project><assignedNode>e2e</assignedNode><builders><hudson.tasks.Shell><command>"+cmd+
				"</command></hudson.tasks.Shell></builders></project>")
	}
	job("quick", "echo hello from docker; sleep 0.5 &amp;&amp; true")
	job("long", "echo long started; sleep 300")
	j.must(201, "POST", "/job/quick/build?delay=0sec", "", "")
	_, jnlp := j.do("GET", "/computer/"+node+"/jenkins-agent.jnlp", "", "")
	secret := between(jnlp, "<argument>", "</argument>")

	docker(t, "run", "-d", "--name", agent, "--network", network, "--label", "drover.test="+id,
		"-e", "JENKINS_URL=http://"+ctl+":8080", "-e", "JENKINS_SECRET="+secret, "-e", "JENKINS_AGENT_NAME="+node,
		"-e", "JENKINS_AGENT_WORKDIR=/home/jenkins/agent", "drover/jenkins-agent-test:1")
	waitFor(t, "quick #1 SUCCESS", 60*time.Second, func() bool {
		_, b := j.do("GET", "/job/quick/1/api/json?tree=result,builtOn", "", "")
		return strings.Contains(b, `"result":"SUCCESS"`) && strings.Contains(b, `"builtOn":"`+node+`"`)
	})
	if _, text := j.do("GET", "/job/quick/1/consoleText", "", ""); !strings.Contains(text, "\nhello from docker\n") {
		t.Errorf("console:\n%s", text)
	}
	if logs := docker(t, "logs", agent); !strings.Contains(logs, "connected as "+node) || !strings.Contains(logs, "build quick #1 finished: SUCCESS") {
		t.Errorf("agent logs:\n%s", logs)
	}

	j.must(201, "POST", "/job/long/build?delay=0sec", "", "")
	waitFor(t, "long #1 running", 60*time.Second, func() bool {
		_, b := j.do("GET", "/job/long/1/consoleText", "", "")
		return strings.Contains(b, "long started")
	})
	docker(t, "kill", agent)
	waitFor(t, "long #1 FAILURE and the node offline", 30*time.Second, func() bool {
		_, b := j.do("GET", "/job/long/1/api/json?tree=result", "", "")
		_, n := j.do("GET", "/computer/"+node+"/api/json?tree=offline", "", "")
		return strings.Contains(b, `"result":"FAILURE"`) && strings.Contains(n, `"offline":true`)
	})

	docker(t, "restart", "-t", "10", ctl)
	ip = docker(t, "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", ctl)
	j.base = "http://" + ip + ":8080"
	waitFor(t, "the restarted controller", 60*time.Second, func() bool { code, _ := j.do("GET", "/login", "", ""); return code == 200 })
	if code, b := j.do("GET", "/job/quick/1/api/json?tree=result", "", ""); code != 200 || !strings.Contains(b, `"result":"SUCCESS"`) {
		t.Errorf("quick #1 after the restart: %d %s", code, b)
	}
	if code, _ := j.do("GET", "/computer/"+node+"/api/json", "", ""); code != 200 {
		t.Errorf("node after the restart: %d", code)
	}
}

// remote is the fake Jenkins in a container, called with the admin's token.
type remote struct {
	t    *testing.T
	base string
}

func (r *remote) do(method, path, ctype, body string) (int, string) {
	req, err := http.NewRequest(method, r.base+path, strings.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	req.SetBasicAuth(admin, token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	c := &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (r *remote) must(want int, method, path, ctype, body string) {
	r.t.Helper()
	if code, b := r.do(method, path, ctype, body); code != want {
		r.t.Fatalf("%s %s: %d %s, want %d", method, path, code, b, want)
	}
}

func between(s, a, b string) string {
	_, rest, _ := strings.Cut(s, a)
	v, _, _ := strings.Cut(rest, b)
	return v
}

// The image refuses JENKINS_WEB_SOCKET with JENKINS_TUNNEL as the
// jenkins/inbound-agent image does: remoting's message, exit status 0.
func TestDockerWebSocketWithTunnelExitsZero(t *testing.T) {
	dockerEngine(t)
	name := fmt.Sprintf("drover-jt-ws-%d", os.Getpid())
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", name).Run() })
	cmd := exec.Command("docker", "run", "--name", name, "-e", "JENKINS_URL=http://jenkins:8080/", "-e", "JENKINS_SECRET=s",
		"-e", "JENKINS_AGENT_NAME=n", "-e", "JENKINS_WEB_SOCKET=true", "-e", "JENKINS_TUNNEL=jenkins:50000",
		"drover/jenkins-agent-test:1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Errorf("docker run: %v, want exit status 0", err)
	}
	if !strings.Contains(stderr.String(), `Option "-webSocket" cannot be used with the option(s) [-direct, -tunnel]`) {
		t.Errorf("stderr %q", stderr.String())
	}
	if code := docker(t, "inspect", "-f", "{{.State.ExitCode}}", name); code != "0" {
		t.Errorf("exit code %s", code)
	}
}
