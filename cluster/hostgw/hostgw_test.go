package hostgw

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/netip"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

type fakeRoutes struct {
	mu sync.Mutex
	m  map[netip.Prefix]netip.Addr
}

func newFakeRoutes() *fakeRoutes { return &fakeRoutes{m: map[netip.Prefix]netip.Addr{}} }

func (f *fakeRoutes) List(context.Context) (map[netip.Prefix]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.m), nil
}
func (f *fakeRoutes) Replace(_ context.Context, dst netip.Prefix, via netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m[dst] = via
	return nil
}
func (f *fakeRoutes) Delete(_ context.Context, dst netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, dst)
	return nil
}

func routeNode(name, cidr, ip string, ready corev1.ConditionStatus) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{PodCIDR: cidr}}
	if ip != "" {
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}}
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}
	return n
}

var (
	p  = netip.MustParsePrefix
	ip = netip.MustParseAddr
)

// TestSyncRoutes: routes to Ready nodes' subnets via their InternalIP, none to itself or to
// nodes without subnet or address; a NotReady node keeps its route, a gone or moved one loses it.
func TestSyncRoutes(t *testing.T) {
	rt := newFakeRoutes()
	r := &Router{cfg: Config{NodeName: "h1", Routes: rt}, log: slog.Default()}
	ctx := context.Background()
	nodes := []*corev1.Node{
		routeNode("h1", "10.244.0.0/24", "172.30.0.11", corev1.ConditionTrue),
		routeNode("h2", "10.244.1.0/24", "172.30.0.12", corev1.ConditionTrue),
		routeNode("h3", "10.244.2.0/24", "172.30.0.13", corev1.ConditionTrue),
		routeNode("h4", "10.244.3.0/24", "172.30.0.14", corev1.ConditionFalse),
		routeNode("h5", "", "172.30.0.15", corev1.ConditionTrue),
		routeNode("h6", "10.244.5.0/24", "", corev1.ConditionTrue),
		routeNode("h7", "10.244.0.0/24", "172.30.0.17", corev1.ConditionTrue), // h1's own subnet
	}
	if err := r.sync(ctx, nodes); err != nil {
		t.Fatal(err)
	}
	want := map[netip.Prefix]netip.Addr{p("10.244.1.0/24"): ip("172.30.0.12"), p("10.244.2.0/24"): ip("172.30.0.13")}
	if !maps.Equal(rt.m, want) {
		t.Fatalf("routes = %v, want %v", rt.m, want)
	}
	// h2 goes NotReady (kept), h3 is deleted (removed), h4 becomes Ready (added).
	nodes = []*corev1.Node{nodes[0],
		routeNode("h2", "10.244.1.0/24", "172.30.0.12", corev1.ConditionUnknown),
		routeNode("h4", "10.244.3.0/24", "172.30.0.14", corev1.ConditionTrue)}
	if err := r.sync(ctx, nodes); err != nil {
		t.Fatal(err)
	}
	want = map[netip.Prefix]netip.Addr{p("10.244.1.0/24"): ip("172.30.0.12"), p("10.244.3.0/24"): ip("172.30.0.14")}
	if !maps.Equal(rt.m, want) {
		t.Fatalf("routes after changes = %v, want %v", rt.m, want)
	}
	// h4 moves to another address: the route follows.
	nodes[2] = routeNode("h4", "10.244.3.0/24", "172.30.0.24", corev1.ConditionTrue)
	if err := r.sync(ctx, nodes); err != nil {
		t.Fatal(err)
	}
	if rt.m[p("10.244.3.0/24")] != ip("172.30.0.24") {
		t.Errorf("route to h4 = %v after its address changed", rt.m[p("10.244.3.0/24")])
	}
}

func TestParseRoutes(t *testing.T) {
	got := parseRoutes("10.244.1.0/24 via 172.30.0.12 dev eth0 proto 77 \n10.244.2.0/24 via 172.30.0.13 dev eth0 proto 77\nblackhole 10.1.0.0/16 proto 77\n")
	if len(got) != 2 || got[p("10.244.2.0/24")] != ip("172.30.0.13") {
		t.Errorf("parseRoutes = %v", got)
	}
}

// TestRun: the router follows Node events, and returns (its informers stopped) when ctx ends
// or when IPv4 forwarding cannot be turned on.
func TestRun(t *testing.T) {
	client := fake.NewClientset(
		routeNode("h1", "10.244.0.0/24", "172.30.0.11", corev1.ConditionTrue),
		routeNode("h2", "10.244.1.0/24", "172.30.0.12", corev1.ConditionTrue))
	rt := newFakeRoutes()
	r, err := New(Config{NodeName: "h1", Client: client, Routes: rt, Forward: func() error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	waitRoutes(t, rt, map[netip.Prefix]netip.Addr{p("10.244.1.0/24"): ip("172.30.0.12")})
	if err := client.CoreV1().Nodes().Delete(ctx, "h2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRoutes(t, rt, map[netip.Prefix]netip.Addr{})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v after ctx ended, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after ctx ended")
	}

	bad := errors.New("no forwarding")
	r, _ = New(Config{NodeName: "h1", Client: client, Routes: rt, Forward: func() error { return bad }})
	if err := r.Run(context.Background()); !errors.Is(err, bad) {
		t.Errorf("Run = %v, want the forwarding error", err)
	}
}

func waitRoutes(t *testing.T, rt *fakeRoutes, want map[netip.Prefix]netip.Addr) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _ := rt.List(context.Background())
		if maps.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("routes = %v, want %v", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
