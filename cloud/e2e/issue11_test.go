package e2e_test

import (
	"strings"
	"testing"
	"time"

	"github.com/drover-ci/drover/internal/uptest"
)

// exactAgents: 3 builds → exactly 3 agent pods ever created (a surplus
// agent for a pending item would be a 4th).
func exactAgents(t *testing.T, e *cloudEnv) {
	pw := watchPods(t, e.up.Client, "docker")
	e.api.createJob(t, "three", "docker", "sleep 2")
	for range 3 {
		e.api.build(t, "three")
	}
	for i, b := range waitBuilds(t, e.api, "three", 3, 120*time.Second) {
		if b.Result != "SUCCESS" {
			t.Errorf("three #%d: %s", i+1, b.Result)
		}
	}
	uptest.Eventually(t, 60*time.Second, "the three agents gone", func() bool {
		return len(agentPods(t, e.up.Client, "default", "docker")) == 0
	})
	time.Sleep(3 * time.Second) // a surplus agent would have been created by now
	if created, _ := pw.counts(); created != 3 {
		t.Errorf("%d agent pods created for 3 builds, want exactly 3", created)
	}
}

// cappedAgents: 20 builds with containerCap 5 → exactly 20 agents, never
// more than 5 at once.
func cappedAgents(t *testing.T, e *cloudEnv) {
	pw := watchPods(t, e.up.Client, "capped")
	e.api.createJob(t, "twenty", "capped", "sleep 1")
	for range 20 {
		e.api.build(t, "twenty")
	}
	for i, b := range waitBuilds(t, e.api, "twenty", 20, 5*time.Minute) {
		if b.Result != "SUCCESS" {
			t.Errorf("twenty #%d: %s", i+1, b.Result)
		}
	}
	uptest.Eventually(t, 60*time.Second, "the capped agents gone", func() bool {
		return len(agentPods(t, e.up.Client, "default", "capped")) == 0
	})
	time.Sleep(3 * time.Second)
	created, most := pw.counts()
	if created != 20 || most > 5 {
		t.Errorf("%d agents created, %d at most at once, for 20 builds with containerCap 5; want 20 and ≤ 5", created, most)
	}
}

// webSocketWithTunnel: a WebSocket template while jenkinsTunnel is set:
// the agent gets no tunnel (remoting would refuse and exit), builds succeed.
func webSocketWithTunnel(t *testing.T, e *cloudEnv) {
	pw := watchPods(t, e.up.Client, "ws")
	e.api.createJob(t, "wsjob", "ws", "echo websocket")
	e.api.build(t, "wsjob")
	if b := waitBuilds(t, e.api, "wsjob", 1, 120*time.Second)[0]; b.Result != "SUCCESS" || !strings.HasPrefix(b.BuiltOn, "ws-") {
		t.Errorf("wsjob #1: %s on %q", b.Result, b.BuiltOn)
	}
	if created, _ := pw.counts(); created != 1 {
		t.Errorf("%d websocket agents for one build (a refused agent is replaced)", created)
	}
	if st, ok := status(e.up.Client, "default"); !ok || !strings.Contains(strings.Join(st.Warnings, "\n"), "ignore jenkinsTunnel") {
		t.Errorf("status warnings %q, want the websocket/jenkinsTunnel warning", st.Warnings)
	}
}

// stickyCaches: two successive one-shot builds lease the same cache claim;
// two concurrent builds lease two different ones.
func stickyCaches(t *testing.T, e *cloudEnv) {
	pw := watchPods(t, e.up.Client, "cached")
	// The first build writes into the cache; the second, of another job on the same template,
	// fails unless it finds that file (the test agent's interpreter runs both as sh would).
	e.api.createJob(t, "cache-write", "cached", "echo from-the-first-build > /home/jenkins/.m2/marker && sleep 3")
	e.api.createJob(t, "cache-read", "cached", "test -f /home/jenkins/.m2/marker && cat /home/jenkins/.m2/marker && sleep 3")
	e.api.createJob(t, "cache", "cached", "sleep 3")
	claimOf := func(job string, n int) string {
		b := waitBuilds(t, e.api, job, n, 120*time.Second)[n-1]
		if b.Result != "SUCCESS" {
			t.Fatalf("%s #%d: %s", job, n, b.Result)
		}
		return pw.claimsOf()[b.BuiltOn]
	}
	e.api.build(t, "cache-write")
	first := claimOf("cache-write", 1)
	uptest.Eventually(t, 60*time.Second, "the first cached agent gone", func() bool {
		return len(agentPods(t, e.up.Client, "default", "cached")) == 0
	})
	e.api.build(t, "cache-read")
	second := claimOf("cache-read", 1) // SUCCESS: it read the first build's file
	if first == "" || second != first {
		t.Errorf("successive builds leased %q then %q, want the same cache", first, second)
	}
	uptest.Eventually(t, 60*time.Second, "the second cached agent gone", func() bool {
		return len(agentPods(t, e.up.Client, "default", "cached")) == 0
	})
	e.api.build(t, "cache")
	e.api.build(t, "cache")
	a, b := claimOf("cache", 1), claimOf("cache", 2)
	if a == "" || b == "" || a == b {
		t.Errorf("concurrent builds leased %q and %q, want two different caches", a, b)
	}
	if a != first && b != first {
		t.Errorf("concurrent builds leased %q and %q: neither reuses the free %q", a, b, first)
	}
	t.Logf("claims: %v", pw.claimsOf())
}
