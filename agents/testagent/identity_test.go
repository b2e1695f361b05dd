package testagent_test

import (
	"strings"
	"testing"
	"time"

	"github.com/drover-ci/drover/agents/testagent"
	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest"
)

// A controller without the instance-identity plugin: TCP agents fail with
// "invalid X-Instance-Identity" at once (no retrying), WebSocket agents
// connect and build.
func TestNoInstanceIdentity(t *testing.T) {
	s, err := jenkinstest.Start(jenkinstest.Options{AutoStart: true, NoInstanceIdentity: true,
		Users: []jenkinstest.User{{Name: admin, Token: token}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	createNode(t, s, "tcp", "")
	createNode(t, s, "ws", "docker")
	errc, _, _ := runAgent(t, testagent.Config{URL: s.URL(), Name: "tcp", Secret: s.Secret("tcp"), RetryFor: time.Minute})
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "invalid X-Instance-Identity") || !testagent.IsRejected(err) {
			t.Errorf("TCP agent: %v, want a rejection naming the invalid X-Instance-Identity", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the TCP agent kept trying")
	}
	if online(s, "tcp") {
		t.Error("the TCP agent connected")
	}
	// Even one that skips the listener check (-direct) is refused by the port.
	errc, _, _ = runAgent(t, testagent.Config{Name: "tcp", Secret: s.Secret("tcp"), DirectConnection: s.AgentListenAddr()})
	if err := <-errc; err == nil || !strings.Contains(err.Error(), "Unknown protocol") {
		t.Errorf("direct TCP agent: %v, want the port to refuse JNLP4-connect", err)
	}
	runAgent(t, testagent.Config{URL: s.URL(), Name: "ws", Secret: s.Secret("ws"), WebSocket: true})
	waitFor(t, "ws online", 10*time.Second, func() bool { return online(s, "ws") })
	createJob(t, s, "j", "docker", "echo hi")
	trigger(t, s, "j")
	if r, on := waitResult(t, s, "j", 1); r != "SUCCESS" || on != "ws" {
		t.Errorf("build on the WebSocket agent: %s on %q", r, on)
	}
}
