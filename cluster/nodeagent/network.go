package nodeagent

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// RouteProto tags the host routes the agent adds (`ip route … proto 77`), so it finds and
// removes its own routes, and only those.
const RouteProto = "77"

// RouteTable is the host's routing table as far as pod subnets of other nodes go.
type RouteTable interface {
	// List returns the routes the agent added: destination → gateway.
	List(ctx context.Context) (map[netip.Prefix]netip.Addr, error)
	Replace(ctx context.Context, dst netip.Prefix, via netip.Addr) error
	Delete(ctx context.Context, dst netip.Prefix) error
}

// networkReplacer is a runtime that can move an unused pod network to another subnet
// (the Docker runtime).
type networkReplacer interface {
	ReplaceNetwork(ctx context.Context, name, subnet string) (gateway string, err error)
}

// setupNetwork makes the pod network. With HostGW the subnet is the Node's spec.podCIDR
// (given by the nodeipam controller), waited for up to PodCIDRTimeout.
func (a *Agent) setupNetwork(ctx context.Context) (string, error) {
	if !a.cfg.HostGW {
		return a.cfg.Runtime.EnsureNetwork(ctx, a.cfg.Network, a.cfg.Subnet)
	}
	cidr, err := a.waitPodCIDR(ctx)
	if err != nil {
		return "", err
	}
	a.cfg.Subnet = cidr // before any pod worker starts
	if err := enableIPForward(); err != nil {
		return "", err
	}
	if r, ok := a.cfg.Runtime.(networkReplacer); ok {
		return r.ReplaceNetwork(ctx, a.cfg.Network, cidr)
	}
	return a.cfg.Runtime.EnsureNetwork(ctx, a.cfg.Network, cidr)
}

// waitPodCIDR polls the Node until it has a podCIDR.
func (a *Agent) waitPodCIDR(ctx context.Context) (string, error) {
	deadline := a.cfg.Clock.Now().Add(a.cfg.PodCIDRTimeout)
	logged := false
	for {
		node, err := a.cfg.Client.CoreV1().Nodes().Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
		if err == nil && node.Spec.PodCIDR != "" {
			if _, perr := netip.ParsePrefix(node.Spec.PodCIDR); perr != nil {
				return "", fmt.Errorf("node %s: spec.podCIDR %q: %w", a.cfg.NodeName, node.Spec.PodCIDR, perr)
			}
			a.log.Info("pod subnet from the Node", "podCIDR", node.Spec.PodCIDR)
			return node.Spec.PodCIDR, nil
		}
		if !logged {
			a.log.Info("waiting for the Node's spec.podCIDR (given by the nodeipam controller of drover server --cluster-cidr)", "timeout", a.cfg.PodCIDRTimeout)
			logged = true
		}
		if a.cfg.Clock.Now().After(deadline) {
			return "", fmt.Errorf("node %s has no spec.podCIDR after %s: is drover server running its controllers with a --cluster-cidr (not \"none\")? Without several hosts, run the node without --host-gw to use --subnet", a.cfg.NodeName, a.cfg.PodCIDRTimeout)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-a.cfg.Clock.After(500 * time.Millisecond):
		}
	}
}

// enableIPForward lets this host forward packets between its pod bridge and the other hosts.
func enableIPForward() error {
	const p = "/proc/sys/net/ipv4/ip_forward"
	if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == "1" {
		return nil
	}
	if err := os.WriteFile(p, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("enable IPv4 forwarding (host-gw routes pods between hosts): %w", err)
	}
	return nil
}

// runRoutes keeps a host route to every other node's pod subnet through that node's
// InternalIP (flannel's host-gw): added once the node is Ready, removed when the node is
// gone or its subnet or address changed. Reconciled on Node events and every RouteResync.
func (a *Agent) runRoutes(ctx context.Context) {
	factory := informers.NewSharedInformerFactory(a.cfg.Client, 0)
	inf := factory.Core().V1().Nodes()
	kick := make(chan struct{}, 1)
	poke := func(interface{}) {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: poke, UpdateFunc: func(_, o interface{}) { poke(o) }, DeleteFunc: poke,
	})
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
		return
	}
	t := a.cfg.Clock.NewTicker(a.cfg.RouteResync)
	defer t.Stop()
	for {
		nodes, err := inf.Lister().List(labels.Everything())
		if err == nil {
			if err := a.syncRoutes(ctx, nodes); err != nil && ctx.Err() == nil {
				a.log.Warn("host routes", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-t.C():
		}
	}
}

// syncRoutes makes the agent's routes what nodes ask for.
func (a *Agent) syncRoutes(ctx context.Context, nodes []*corev1.Node) error {
	have, err := a.cfg.Routes.List(ctx)
	if err != nil {
		return err
	}
	want, known := a.routesOf(nodes)
	var errs []string
	for dst, via := range have {
		// Keep the route of a node that is merely NotReady: only gone or changed nodes lose it.
		if k, ok := known[dst]; !ok || k != via {
			if err := a.cfg.Routes.Delete(ctx, dst); err != nil {
				errs = append(errs, err.Error())
			} else {
				a.log.Info("host route removed", "dst", dst, "via", via)
			}
		}
	}
	for dst, via := range want {
		if have[dst] == via {
			continue
		}
		if err := a.cfg.Routes.Replace(ctx, dst, via); err != nil {
			errs = append(errs, err.Error())
		} else {
			a.log.Info("host route added", "dst", dst, "via", via)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// routesOf returns the routes to the other nodes' pod subnets through their InternalIPs:
// those of Ready nodes (wanted), and those of all of them (known).
func (a *Agent) routesOf(nodes []*corev1.Node) (want, known map[netip.Prefix]netip.Addr) {
	own, _ := netip.ParsePrefix(a.cfg.Subnet)
	want, known = map[netip.Prefix]netip.Addr{}, map[netip.Prefix]netip.Addr{}
	for _, n := range nodes {
		if n.Name == a.cfg.NodeName {
			continue
		}
		dst, err := netip.ParsePrefix(n.Spec.PodCIDR)
		if err != nil || dst.Masked() == own.Masked() {
			continue
		}
		via, ok := internalIP(n)
		if !ok {
			continue
		}
		known[dst] = via
		if nodeIsReady(n) {
			want[dst] = via
		}
	}
	return want, known
}

func internalIP(n *corev1.Node) (netip.Addr, bool) {
	for _, ad := range n.Status.Addresses {
		if ad.Type == corev1.NodeInternalIP {
			ip, err := netip.ParseAddr(ad.Address)
			return ip, err == nil
		}
	}
	return netip.Addr{}, false
}

func nodeIsReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// IPRoutes is the real RouteTable: the `ip` command of iproute2, on the main table of the
// network namespace the agent runs in.
type IPRoutes struct{}

func (IPRoutes) run(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// List parses `ip -4 route show proto 77` (lines "10.244.1.0/24 via 172.30.0.11 dev eth0 …").
func (r IPRoutes) List(ctx context.Context) (map[netip.Prefix]netip.Addr, error) {
	out, err := r.run(ctx, "-4", "route", "show", "proto", RouteProto)
	if err != nil {
		return nil, err
	}
	return parseRoutes(out), nil
}

func parseRoutes(out string) map[netip.Prefix]netip.Addr {
	m := map[netip.Prefix]netip.Addr{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[1] != "via" {
			continue
		}
		dst, err1 := netip.ParsePrefix(f[0])
		via, err2 := netip.ParseAddr(f[2])
		if err1 == nil && err2 == nil {
			m[dst] = via
		}
	}
	return m
}

// Replace adds or changes the route to dst.
func (r IPRoutes) Replace(ctx context.Context, dst netip.Prefix, via netip.Addr) error {
	_, err := r.run(ctx, "route", "replace", dst.String(), "via", via.String(), "proto", RouteProto)
	return err
}

// Delete removes the agent's route to dst.
func (r IPRoutes) Delete(ctx context.Context, dst netip.Prefix) error {
	_, err := r.run(ctx, "route", "del", dst.String(), "proto", RouteProto)
	return err
}
