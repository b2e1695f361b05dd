package nodeagent_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The node registers with the Docker host's capacity and its engine version, and renews its
// Lease.
func TestE2ENodeAndLease(t *testing.T) {
	t.Parallel()
	e := startE2E(t, e2eOptions{})
	ctx := context.Background()
	n, err := e.client.CoreV1().Nodes().Get(ctx, e.node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Status.Capacity.Cpu().Value() < 1 || n.Status.Capacity.Memory().Value() < 1<<28 || n.Status.Allocatable.Pods().Value() != 110 {
		t.Errorf("capacity %v allocatable %v", n.Status.Capacity, n.Status.Allocatable)
	}
	if v := n.Status.NodeInfo.ContainerRuntimeVersion; !strings.HasPrefix(v, "docker://20.") && !strings.HasPrefix(v, "docker://2") {
		t.Errorf("containerRuntimeVersion %q, want docker://VERSION", v)
	}
	addr := map[corev1.NodeAddressType]string{}
	for _, a := range n.Status.Addresses {
		addr[a.Type] = a.Address
	}
	if addr[corev1.NodeInternalIP] != "127.0.0.1" || addr[corev1.NodeHostName] != e.node {
		t.Errorf("addresses %v", n.Status.Addresses)
	}
	if n.Status.DaemonEndpoints.KubeletEndpoint.Port == 0 {
		t.Error("no log port in daemonEndpoints")
	}
	leases := e.client.CoordinationV1().Leases("kube-node-lease")
	var first time.Time
	e.poll(10*time.Second, "lease created", func() (bool, string) {
		l, err := leases.Get(ctx, e.node, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		first = l.Spec.RenewTime.Time
		return *l.Spec.HolderIdentity == e.node, *l.Spec.HolderIdentity
	})
	e.poll(10*time.Second, "lease renewed (every 2s here)", func() (bool, string) {
		l, err := leases.Get(ctx, e.node, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return l.Spec.RenewTime.After(first), l.Spec.RenewTime.String()
	})
}
