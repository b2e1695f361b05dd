package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/errdefs"
)

// NetworkLabel marks the networks drover creates.
const NetworkLabel = "drover.io/network"

// ClusterLabel names the drover cluster that created a network (the node agent's ClusterID).
const ClusterLabel = "drover.io/cluster"

// ForeignNetworkError is EnsureNetwork's answer for a network of the wanted name that another
// drover on the same engine created.
type ForeignNetworkError struct {
	Name, Cluster, Own string
}

func (e *ForeignNetworkError) Error() string {
	return fmt.Sprintf("docker: network %s belongs to another drover on this Docker engine (cluster %s; this one is %s; "+
		"if that drover is gone for good, `docker network rm %s` frees the name)", e.Name, e.Cluster, e.Own, e.Name)
}

// EnsureNetwork creates the bridge network name with subnet and the subnet's first host as
// gateway unless it exists, and returns the gateway. An existing network with another subnet
// is an error: drover does not move pods between subnets.
//
// On a local engine (a unix socket) it then checks the host's interfaces: another interface
// with an address in subnet — typically a bridge left behind by a Docker engine whose state
// was removed — takes the replies to the pods, which then reach nothing on the host (not the
// API server, not a Service). That is an error naming the interface and the fix.
func (r *Runtime) EnsureNetwork(ctx context.Context, name, subnet string) (string, error) {
	_, ipnet, err := net.ParseCIDR(subnet)
	if err != nil || ipnet.IP.To4() == nil {
		return "", fmt.Errorf("docker: network %s: subnet %q is not an IPv4 CIDR", name, subnet)
	}
	gw, err := r.ensureNetwork(ctx, name, ipnet)
	if err != nil || !strings.HasPrefix(r.cli.DaemonHost(), "unix://") {
		return gw, err
	}
	nw, err := r.cli.NetworkInspect(ctx, name, types.NetworkInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("docker: inspect network %s: %w", name, err)
	}
	ifaces, err := hostInterfaces()
	if err != nil {
		return "", fmt.Errorf("docker: network %s: list the host's interfaces: %w", name, err)
	}
	if err := checkSubnetOwner(ifaces, bridgeName(nw), name, ipnet); err != nil {
		return "", err
	}
	return gw, nil
}

func (r *Runtime) ensureNetwork(ctx context.Context, name string, ipnet *net.IPNet) (string, error) {
	subnet := ipnet.String()
	gateway := firstHost(ipnet)
	for attempt := 0; ; attempt++ {
		nw, err := r.cli.NetworkInspect(ctx, name, types.NetworkInspectOptions{})
		if err == nil {
			if other := nw.Labels[ClusterLabel]; other != "" && r.clusterID != "" && other != r.clusterID {
				return "", &ForeignNetworkError{Name: name, Cluster: other, Own: r.clusterID}
			}
			return existingGateway(nw, ipnet)
		}
		if !errdefs.IsNotFound(err) {
			return "", fmt.Errorf("docker: inspect network %s: %w", name, err)
		}
		_, err = r.cli.NetworkCreate(ctx, name, types.NetworkCreate{
			CheckDuplicate: true,
			Driver:         "bridge",
			IPAM:           &network.IPAM{Config: []network.IPAMConfig{{Subnet: ipnet.String(), Gateway: gateway}}},
			Labels:         r.networkLabels(),
		})
		if err == nil {
			return gateway, nil
		}
		if attempt >= 4 || !(errdefs.IsConflict(err) || errdefs.IsForbidden(err)) {
			return "", fmt.Errorf("docker: create network %s (%s): %w", name, subnet, err)
		}
		// Someone else created it meanwhile: inspect again. (The engine may still answer
		// "not found" for a moment: two node agents starting together on a new engine saw
		// "network with name ... already exists" after one retry.)
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("docker: create network %s (%s): %w", name, subnet, ctx.Err())
		case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
		}
	}
}

func (r *Runtime) networkLabels() map[string]string {
	l := map[string]string{NetworkLabel: "1"}
	if r.clusterID != "" {
		l[ClusterLabel] = r.clusterID
	}
	return l
}

func existingGateway(nw types.NetworkResource, want *net.IPNet) (string, error) {
	var have []string
	for _, c := range nw.IPAM.Config {
		_, n, err := net.ParseCIDR(c.Subnet)
		if err != nil {
			continue
		}
		if n.String() == want.String() {
			if c.Gateway != "" {
				return c.Gateway, nil
			}
			return firstHost(n), nil
		}
		have = append(have, c.Subnet)
	}
	return "", fmt.Errorf("docker: network %s exists with subnet %v, not %s (remove it or configure its subnet): %w", nw.Name, have, want, errSubnetMismatch)
}

// errSubnetMismatch is wrapped by EnsureNetwork when the network exists with another subnet.
var errSubnetMismatch = errors.New("subnet mismatch")

func firstHost(n *net.IPNet) string {
	ip := n.IP.To4()
	return net.IPv4(ip[0], ip[1], ip[2], ip[3]+1).String()
}

// ReplaceNetwork is EnsureNetwork for a node whose pod subnet is assigned by the cluster
// (host-gw): a network name with another subnet is removed and created again with subnet when
// no container uses it; with containers on it, it is an error naming them.
func (r *Runtime) ReplaceNetwork(ctx context.Context, name, subnet string) (string, error) {
	gw, err := r.EnsureNetwork(ctx, name, subnet)
	if err == nil || !errors.Is(err, errSubnetMismatch) {
		return gw, err // only a network on another subnet is replaced, not one a transient error hid
	}
	nw, ierr := r.cli.NetworkInspect(ctx, name, types.NetworkInspectOptions{})
	if ierr != nil {
		return "", err
	}
	if nw.Labels[NetworkLabel] == "" {
		return "", fmt.Errorf("%w (not created by drover: left alone)", err)
	}
	if len(nw.Containers) > 0 {
		var names []string
		for _, c := range nw.Containers {
			names = append(names, c.Name)
		}
		return "", fmt.Errorf("%w; %d containers still use it (%v)", err, len(names), names)
	}
	if rerr := r.cli.NetworkRemove(ctx, nw.ID); rerr != nil && !errdefs.IsNotFound(rerr) {
		return "", fmt.Errorf("docker: remove network %s to move it to %s: %w", name, subnet, rerr)
	}
	return r.EnsureNetwork(ctx, name, subnet)
}

// hostIface is a host network interface and its addresses.
type hostIface struct {
	Name  string
	Addrs []*net.IPNet
}

// hostInterfaces lists this host's interfaces and their IP addresses.
func hostInterfaces() ([]hostIface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	out := make([]hostIface, 0, len(ifs))
	for _, i := range ifs {
		addrs, err := i.Addrs()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", i.Name, err)
		}
		hi := hostIface{Name: i.Name}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				hi.Addrs = append(hi.Addrs, n)
			}
		}
		out = append(out, hi)
	}
	return out, nil
}

// bridgeName is the Linux bridge of a Docker bridge network: its
// com.docker.network.bridge.name option, else br- and the first 12 characters of its ID.
func bridgeName(nw types.NetworkResource) string {
	if n := nw.Options["com.docker.network.bridge.name"]; n != "" {
		return n
	}
	id := nw.ID
	if len(id) > 12 {
		id = id[:12]
	}
	return "br-" + id
}

// checkSubnetOwner is an error, naming them and the fix, when interfaces other than bridge
// have a connected route that takes replies to pods in subnet: an address inside subnet whose
// prefix is at least as long as subnet's (a shorter one, like a host's 10.0.0.0/8, loses to
// the bridge's more specific route; a /32 is a single local address, no route).
func checkSubnetOwner(ifaces []hostIface, bridge, network string, subnet *net.IPNet) error {
	want, _ := subnet.Mask.Size()
	var others []string
	for _, i := range ifaces {
		if i.Name == bridge {
			continue
		}
		for _, a := range i.Addrs {
			ones, bits := a.Mask.Size()
			if a.IP.To4() == nil || bits != 32 || ones == 32 || ones < want || !subnet.Contains(a.IP) {
				continue
			}
			others = append(others, fmt.Sprintf("%s (%s)", i.Name, a))
		}
	}
	if len(others) == 0 {
		return nil
	}
	sort.Strings(others)
	fix := "remove it, or give the node another --subnet"
	if strings.HasPrefix(others[0], "br-") {
		fix = fmt.Sprintf("it looks like a bridge left behind by a Docker engine whose state was removed: `ip link delete %s`, or give the node another --subnet",
			strings.Fields(others[0])[0])
	}
	return fmt.Errorf("docker: network %s (%s, bridge %s): the host interface %s also has an address in %s, so replies to the pods would leave through it and pods could not reach the host (the API server, Services, DNS); %s",
		network, subnet, bridge, strings.Join(others, ", "), subnet, fix)
}
