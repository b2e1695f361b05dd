package nodeagent

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type fakeRoutes map[netip.Prefix]netip.Addr

func (f fakeRoutes) List(context.Context) (map[netip.Prefix]netip.Addr, error) {
	out := map[netip.Prefix]netip.Addr{}
	for k, v := range f {
		out[k] = v
	}
	return out, nil
}
func (f fakeRoutes) Replace(_ context.Context, dst netip.Prefix, via netip.Addr) error {
	f[dst] = via
	return nil
}
func (f fakeRoutes) Delete(_ context.Context, dst netip.Prefix) error {
	delete(f, dst)
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

// TestSyncRoutes: routes to Ready nodes' subnets via their InternalIP, none to itself or to
// nodes without subnet or address; a NotReady node keeps its route, a gone or moved one loses it.
func TestSyncRoutes(t *testing.T) {
	rt := fakeRoutes{}
	a := &Agent{cfg: Config{NodeName: "h1", Subnet: "10.244.0.0/24", Routes: rt}, log: slog.Default()}
	ctx := context.Background()
	p := netip.MustParsePrefix
	ip := netip.MustParseAddr
	nodes := []*corev1.Node{
		routeNode("h1", "10.244.0.0/24", "172.30.0.11", corev1.ConditionTrue),
		routeNode("h2", "10.244.1.0/24", "172.30.0.12", corev1.ConditionTrue),
		routeNode("h3", "10.244.2.0/24", "172.30.0.13", corev1.ConditionTrue),
		routeNode("h4", "10.244.3.0/24", "172.30.0.14", corev1.ConditionFalse),
		routeNode("h5", "", "172.30.0.15", corev1.ConditionTrue),
		routeNode("h6", "10.244.5.0/24", "", corev1.ConditionTrue),
	}
	if err := a.syncRoutes(ctx, nodes); err != nil {
		t.Fatal(err)
	}
	want := fakeRoutes{p("10.244.1.0/24"): ip("172.30.0.12"), p("10.244.2.0/24"): ip("172.30.0.13")}
	if len(rt) != len(want) || rt[p("10.244.1.0/24")] != want[p("10.244.1.0/24")] || rt[p("10.244.2.0/24")] != want[p("10.244.2.0/24")] {
		t.Fatalf("routes = %v, want %v", rt, want)
	}
	// h2 goes NotReady (kept), h3 is deleted (removed), h4 becomes Ready (added).
	nodes = []*corev1.Node{nodes[0],
		routeNode("h2", "10.244.1.0/24", "172.30.0.12", corev1.ConditionUnknown),
		routeNode("h4", "10.244.3.0/24", "172.30.0.14", corev1.ConditionTrue)}
	if err := a.syncRoutes(ctx, nodes); err != nil {
		t.Fatal(err)
	}
	if _, ok := rt[p("10.244.2.0/24")]; ok || rt[p("10.244.1.0/24")] != ip("172.30.0.12") || rt[p("10.244.3.0/24")] != ip("172.30.0.14") || len(rt) != 2 {
		t.Fatalf("routes after changes = %v", rt)
	}
	// h4 moves to another address: the route follows.
	nodes[2] = routeNode("h4", "10.244.3.0/24", "172.30.0.24", corev1.ConditionTrue)
	if err := a.syncRoutes(ctx, nodes); err != nil {
		t.Fatal(err)
	}
	if rt[p("10.244.3.0/24")] != ip("172.30.0.24") {
		t.Errorf("route to h4 = %v after its address changed", rt[p("10.244.3.0/24")])
	}
}

func TestParseRoutes(t *testing.T) {
	got := parseRoutes("10.244.1.0/24 via 172.30.0.12 dev eth0 proto 77 \n10.244.2.0/24 via 172.30.0.13 dev eth0 proto 77\nblackhole 10.1.0.0/16 proto 77\n")
	if len(got) != 2 || got[netip.MustParsePrefix("10.244.2.0/24")] != netip.MustParseAddr("172.30.0.13") {
		t.Errorf("parseRoutes = %v", got)
	}
}
