package hollow

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
)

// network is a simulated bridge network: a subnet whose first address is the gateway and
// whose other addresses are handed to running containers.
type network struct {
	prefix  netip.Prefix
	gateway netip.Addr
	used    map[netip.Addr]struct{}
	next    netip.Addr
}

// EnsureNetwork creates the network name with subnet unless it exists, and returns its
// gateway (the subnet's first address).
func (r *Runtime) EnsureNetwork(ctx context.Context, name, subnet string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n, ok := r.networks[name]; ok {
		if p, err := netip.ParsePrefix(subnet); err != nil || p.Masked() != n.prefix {
			return "", fmt.Errorf("network %s exists with subnet %s, not %s", name, n.prefix, subnet)
		}
		return n.gateway.String(), nil
	}
	n, err := r.addNetwork(name, subnet)
	if err != nil {
		return "", err
	}
	return n.gateway.String(), nil
}

// RemoveNetwork removes a network (as an operator might); containers on it cannot start.
func (r *Runtime) RemoveNetwork(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.networks, name)
}

func (r *Runtime) addNetwork(name, subnet string) (*network, error) {
	p, err := netip.ParsePrefix(subnet)
	if err != nil || !p.Addr().Is4() || p.Bits() > 30 {
		return nil, fmt.Errorf("network %s: invalid IPv4 subnet %q", name, subnet)
	}
	p = p.Masked()
	gw := p.Addr().Next()
	n := &network{prefix: p, gateway: gw, used: map[netip.Addr]struct{}{}, next: gw.Next()}
	r.networks[name] = n
	return n, nil
}

// allocate returns a free address of n (want, if given and free).
func (n *network) allocate(want string) (netip.Addr, error) {
	if want != "" {
		a, err := netip.ParseAddr(want)
		if err != nil || !n.usable(a) {
			return netip.Addr{}, fmt.Errorf("address %q is not usable in %s", want, n.prefix)
		}
		if _, taken := n.used[a]; taken {
			return netip.Addr{}, fmt.Errorf("address %s is already in use", a)
		}
		n.used[a] = struct{}{}
		return a, nil
	}
	for a, tried := n.next, 0; tried < 1<<(32-n.prefix.Bits()); a, tried = a.Next(), tried+1 {
		if !n.prefix.Contains(a) {
			a = n.prefix.Addr()
		}
		if _, taken := n.used[a]; taken || !n.usable(a) {
			continue
		}
		n.used[a] = struct{}{}
		n.next = a.Next()
		return a, nil
	}
	return netip.Addr{}, fmt.Errorf("no free address in %s", n.prefix)
}

// usable reports whether a is a host address of n other than the gateway.
func (n *network) usable(a netip.Addr) bool {
	if !n.prefix.Contains(a) || a == n.prefix.Addr() || a == n.gateway {
		return false
	}
	return n.prefix.Contains(a.Next()) // not the broadcast address
}

func (n *network) release(a netip.Addr) { delete(n.used, a) }

// joinTarget returns the container whose network namespace mode "container:REF" names.
func joinTarget(mode string) (string, bool) {
	return strings.CutPrefix(mode, "container:")
}
