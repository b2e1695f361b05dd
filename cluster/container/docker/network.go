package docker

import (
	"context"
	"errors"
	"fmt"
	"net"

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
func (r *Runtime) EnsureNetwork(ctx context.Context, name, subnet string) (string, error) {
	_, ipnet, err := net.ParseCIDR(subnet)
	if err != nil || ipnet.IP.To4() == nil {
		return "", fmt.Errorf("docker: network %s: subnet %q is not an IPv4 CIDR", name, subnet)
	}
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
		if attempt > 0 || !(errdefs.IsConflict(err) || errdefs.IsForbidden(err)) {
			return "", fmt.Errorf("docker: create network %s (%s): %w", name, subnet, err)
		}
		// Someone else created it meanwhile: inspect again.
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
