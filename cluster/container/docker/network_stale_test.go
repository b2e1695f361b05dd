package docker

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func mustCIDR(t *testing.T, s string) *net.IPNet {
	t.Helper()
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	n.IP = ip
	return n
}

// checkSubnetOwner refuses another interface with a connected route at least as specific as
// the pod subnet inside it, and nothing else.
func TestCheckSubnetOwner(t *testing.T) {
	_, subnet, _ := net.ParseCIDR("10.207.0.0/16")
	ifaces := func(name, addr string) []hostIface {
		return []hostIface{
			{Name: "lo", Addrs: []*net.IPNet{mustCIDR(t, "127.0.0.1/8"), mustCIDR(t, "10.208.0.1/32")}},
			{Name: "eth0", Addrs: []*net.IPNet{mustCIDR(t, "192.0.2.2/24")}},
			{Name: "br-new000000", Addrs: []*net.IPNet{mustCIDR(t, "10.207.0.1/16")}},
			{Name: name, Addrs: []*net.IPNet{mustCIDR(t, addr)}},
		}
	}
	for _, c := range []struct {
		name, addr, want string
	}{
		{"br-2908465f35d2", "10.207.0.1/16", "ip link delete br-2908465f35d2"},
		{"eth1", "10.207.5.1/24", "eth1 (10.207.5.1/24)"},
		{"eth1", "10.0.0.5/8", ""},            // less specific: the bridge's route wins
		{"lo", "10.207.0.9/32", ""},           // one local address, no route
		{"eth1", "10.209.0.1/16", ""},         // another subnet
		{"eth1", "fd00::1/64", ""},            // IPv6
		{"br-new000000", "10.207.0.1/16", ""}, // the network's own bridge
	} {
		err := checkSubnetOwner(ifaces(c.name, c.addr), "br-new000000", "drover-pods", subnet)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s %s: %v, want no error", c.name, c.addr, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "drover-pods (10.207.0.0/16, bridge br-new000000)")):
			t.Errorf("%s %s: %v, want an error naming %q", c.name, c.addr, err, c.want)
		}
	}
}

// On a real engine, a leftover bridge holding the pod subnet (as a Docker engine whose state
// was removed leaves behind) makes EnsureNetwork fail and say
// why, instead of giving pods a network from which the host cannot be reached.
func TestEnsureNetworkRefusesALeftoverBridge(t *testing.T) {
	rt := engine(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("ip (iproute2) not found: %v", err)
	}
	ctx := context.Background()
	name := fmt.Sprintf("dt-stale-%d", os.Getpid())
	link := fmt.Sprintf("dtstale%d", os.Getpid()%10000)
	if out, err := exec.Command("ip", "link", "add", link, "type", "bridge").CombinedOutput(); err != nil {
		t.Fatalf("ip link add: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "link", "delete", link).Run() })
	if out, err := exec.Command("ip", "addr", "add", "10.251.211.1/24", "dev", link).CombinedOutput(); err != nil {
		t.Fatalf("ip addr add: %v %s", err, out)
	}
	t.Cleanup(func() { _ = rt.Client().NetworkRemove(context.Background(), name) })
	_, err := rt.EnsureNetwork(ctx, name, "10.251.211.0/24")
	if err == nil || !strings.Contains(err.Error(), link+" (10.251.211.1/24)") || !strings.Contains(err.Error(), "pods could not reach the host") {
		t.Fatalf("EnsureNetwork beside %s holding the subnet: %v, want an error naming it", link, err)
	}
	// Without it, the same network is fine.
	if out, err := exec.Command("ip", "link", "delete", link).CombinedOutput(); err != nil {
		t.Fatalf("ip link delete: %v %s", err, out)
	}
	if gw, err := rt.EnsureNetwork(ctx, name, "10.251.211.0/24"); err != nil || gw != "10.251.211.1" {
		t.Fatalf("EnsureNetwork after removing %s = %q, %v", link, gw, err)
	}
}
