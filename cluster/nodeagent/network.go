package nodeagent

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// networkReplacer is a runtime that can move an unused pod network to another subnet
// (the Docker runtime).
type networkReplacer interface {
	ReplaceNetwork(ctx context.Context, name, subnet string) (gateway string, err error)
}

// setupNetwork makes the pod network. With HostGW the subnet is the Node's spec.podCIDR
// (given by the nodeipam controller), waited for up to PodCIDRTimeout; the routes to the
// other nodes' subnets are package hostgw's.
func (a *Agent) setupNetwork(ctx context.Context) (string, error) {
	if !a.cfg.HostGW {
		return a.cfg.Runtime.EnsureNetwork(ctx, a.cfg.Network, a.cfg.Subnet)
	}
	cidr, err := a.waitPodCIDR(ctx)
	if err != nil {
		return "", err
	}
	a.cfg.Subnet = cidr // before any pod worker starts
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
