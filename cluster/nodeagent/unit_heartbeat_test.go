package nodeagent

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/container/hollow"
)

// countingRT counts the requests that pass, by method and the resource they address.
type countingRT struct {
	next http.RoundTripper
	mu   sync.Mutex
	n    map[string]int // "GET leases", "PUT nodes", ...
}

func (c *countingRT) RoundTrip(r *http.Request) (*http.Response, error) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	res := ""
	for i, p := range parts { // .../namespaces/NS/leases/NAME or .../nodes/NAME/status
		if p == "leases" || p == "nodes" {
			res = p
			if i+2 < len(parts) {
				res += "/" + parts[i+2]
			}
		}
	}
	c.mu.Lock()
	c.n[r.Method+" "+res]++
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

func (c *countingRT) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = map[string]int{}
	return n
}

// heartbeatAgent is a registered hollow node agent on a real API server whose client counts
// its requests; its heartbeat is driven beat by beat on a fake clock.
func heartbeatAgent(t *testing.T) (*Agent, *countingRT, *clocktesting.FakeClock, kubernetes.Interface) {
	t.Helper()
	a, counter, fc, admin, _ := heartbeatAgentConfig(t)
	return a, counter, fc, admin
}

// heartbeatAgentConfig is heartbeatAgent, with the API server's admin configuration.
func heartbeatAgentConfig(t *testing.T) (*Agent, *countingRT, *clocktesting.FakeClock, kubernetes.Interface, *rest.Config) {
	t.Helper()
	srv := apiservertest.Start(t)
	counter := &countingRT{n: map[string]int{}}
	cfg := rest.CopyConfig(srv.Config)
	cfg.QPS, cfg.Burst = -1, 0
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { counter.next = rt; return counter }
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	fc := clocktesting.NewFakeClock(time.Now())
	a, err := New(Config{NodeName: "hb", Client: client, Runtime: hollow.New(hollow.Options{Clock: fc}), Clock: fc,
		NodeIP: "127.0.0.1", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.registerNode(context.Background()); err != nil {
		t.Fatal(err)
	}
	return a, counter, fc, admin, srv.Config
}

// TestHeartbeatRequests: in steady state a heartbeat is one request, the Lease update (no
// Lease GET first, no Node GET per beat); the Node status is posted only every
// StatusReportFrequency, and read about once a minute. The Lease nodelifecycle reads is
// renewed with every beat.
func TestHeartbeatRequests(t *testing.T) {
	a, counter, fc, admin := heartbeatAgent(t)
	ctx := context.Background()
	a.beat(ctx) // creates the Lease
	counter.take()

	const beats = 30 // 5 minutes of 10 s beats
	for i := 0; i < beats; i++ {
		fc.Step(10 * time.Second)
		a.beat(ctx)
		l, err := admin.CoordinationV1().Leases(leaseNamespace).Get(ctx, "hb", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !l.Spec.RenewTime.Time.Equal(fc.Now().Truncate(time.Microsecond)) {
			t.Fatalf("beat %d: lease renewTime %v, want %v", i, l.Spec.RenewTime.Time, fc.Now())
		}
	}
	got := counter.take()
	if got["PUT leases"] != beats || got["GET leases"] != 0 {
		t.Errorf("%d beats: %d Lease PUTs, %d Lease GETs; want %d and 0 (all: %v)", beats, got["PUT leases"], got["GET leases"], beats, got)
	}
	if g := got["GET nodes"]; g > beats/6 {
		t.Errorf("%d beats read the Node %d times, want at most one a minute (%d)", beats, g, beats/6)
	}
	if p := got["PUT nodes/status"]; p != 1 {
		t.Errorf("%d beats (5 min) posted the Node status %d times, want 1 (every 5 min)", beats, p)
	}
	total := 0
	for _, n := range got {
		total += n
	}
	if total > beats+beats/6+1 {
		t.Errorf("%d beats cost %d requests: %v", beats, total, got)
	}
}

// TestHeartbeatRecovers: someone else's write to the Lease makes the next renewal conflict; it
// reads the Lease again and renews it. A node the node controller marked Unknown is posted
// Ready again within a minute, and at once after a gap in the renewals.
func TestHeartbeatRecovers(t *testing.T) {
	a, counter, fc, admin := heartbeatAgent(t)
	ctx := context.Background()
	a.beat(ctx)
	l, err := admin.CoordinationV1().Leases(leaseNamespace).Get(ctx, "hb", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l.Labels = map[string]string{"touched": "yes"}
	if _, err := admin.CoordinationV1().Leases(leaseNamespace).Update(ctx, l, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	counter.take()
	fc.Step(10 * time.Second)
	a.beat(ctx)
	got := counter.take()
	if got["PUT leases"] != 2 || got["GET leases"] != 1 {
		t.Errorf("renewal after a conflict: %v, want PUT, GET, PUT", got)
	}
	l, _ = admin.CoordinationV1().Leases(leaseNamespace).Get(ctx, "hb", metav1.GetOptions{})
	if !l.Spec.RenewTime.Time.Equal(fc.Now().Truncate(time.Microsecond)) || l.Labels["touched"] != "yes" {
		t.Errorf("lease after the conflict: %+v", l)
	}

	markUnknown := func() {
		t.Helper()
		n, err := admin.CoreV1().Nodes().Get(ctx, "hb", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range n.Status.Conditions {
			n.Status.Conditions[i].Status = corev1.ConditionUnknown
		}
		if _, err := admin.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ready := func() bool {
		n, err := admin.CoreV1().Nodes().Get(ctx, "hb", metav1.GetOptions{})
		return err == nil && nodeReady(n)
	}
	markUnknown()
	for i := 0; i < 6 && !ready(); i++ {
		fc.Step(10 * time.Second)
		a.beat(ctx)
	}
	if !ready() {
		t.Error("a node marked Unknown was not posted Ready again within a minute")
	}
	markUnknown()
	fc.Step(time.Minute) // the renewals stopped meanwhile
	a.beat(ctx)
	if !ready() {
		t.Error("the first renewal after a gap did not post the node Ready again")
	}
}

// TestHeartbeatClient: with a HeartbeatClient, the Lease renewals and Node status posts go
// through it (its own connection), none through the agent's main client.
func TestHeartbeatClient(t *testing.T) {
	a, mainCounter, fc, _, srvConfig := heartbeatAgentConfig(t)
	hbCounter := &countingRT{n: map[string]int{}}
	cfg := rest.CopyConfig(srvConfig)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { hbCounter.next = rt; return hbCounter }
	hb, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a.cfg.HeartbeatClient = hb
	ctx := context.Background()
	mainCounter.take()
	for range 31 {
		a.beat(ctx)
		fc.Step(10 * time.Second)
	}
	if got := mainCounter.take(); len(got) != 0 {
		t.Errorf("the main client made heartbeat requests: %v", got)
	}
	got := hbCounter.take()
	if got["PUT leases"] < 30 || got["PUT nodes/status"] < 1 {
		t.Errorf("the heartbeat client made %v; want the Lease renewals and a status post", got)
	}
}
