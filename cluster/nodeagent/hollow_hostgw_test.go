package nodeagent

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A host-gw node registers NotReady ("network not ready") while it waits for its podCIDR, so
// nothing is scheduled onto a node without a pod network, and turns Ready once it has one.
func TestHollowHostGWNotReadyUntilPodCIDR(t *testing.T) {
	h := startHollow(t)
	// The env's own agent has registered; once its Lease exists it is past start-up and stops
	// cleanly. This test runs a host-gw agent of its own instead.
	h.poll(10*time.Second, "the first agent's Lease", func() (bool, string) {
		_, err := h.client.CoordinationV1().Leases("kube-node-lease").Get(context.Background(), h.node, metav1.GetOptions{})
		return err == nil, fmt.Sprint(err)
	})
	h.stopAgent()
	h.node = "hollow-hostgw"
	a, err := New(Config{NodeName: h.node, Client: h.client, Runtime: h.rt, Probes: h.rt.Prober(), Clock: h.fc,
		NodeIP: "127.0.0.1", HostGW: true, PodCIDRTimeout: time.Hour, Network: "hostgw", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.stop, h.done = cancel, make(chan error, 1)
	go func() { h.done <- a.Run(ctx) }()

	n := h.waitNode(func(n *corev1.Node) bool {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c.Status == corev1.ConditionFalse
			}
		}
		return false
	})
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && !strings.Contains(c.Message, "podCIDR") {
			t.Errorf("NotReady message %q does not say it waits for the podCIDR", c.Message)
		}
	}
	time.Sleep(300 * time.Millisecond) // it stays NotReady while it waits
	if n, _ := h.client.CoreV1().Nodes().Get(context.Background(), h.node, metav1.GetOptions{}); nodeReady(n) {
		t.Fatal("host-gw node Ready before it has a pod network")
	}
	n.Spec.PodCIDR, n.Spec.PodCIDRs = "10.244.7.0/24", []string{"10.244.7.0/24"}
	if _, err := h.client.CoreV1().Nodes().Update(context.Background(), n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitNode(func(n *corev1.Node) bool { return nodeReady(n) })
	// Its pods run on the podCIDR's network.
	h.create(hollowPod("on-hostgw", hollowContainer("c")))
	p := h.waitPod("on-hostgw", "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	if !strings.HasPrefix(p.Status.PodIP, "10.244.7.") {
		t.Errorf("pod IP %s is not from the node's podCIDR 10.244.7.0/24", p.Status.PodIP)
	}
}

// A node that uses its own --subnet (no host-gw) registers that subnet as its spec.podCIDR, so
// the Node and its pods' addresses agree (drover up's node said 10.244.0.0/24 while its pods
// had 10.88.x addresses).
func TestHollowNodePodCIDRIsItsSubnet(t *testing.T) {
	h := startHollow(t)
	h.poll(10*time.Second, "the first agent's Lease", func() (bool, string) {
		_, err := h.client.CoordinationV1().Leases("kube-node-lease").Get(context.Background(), h.node, metav1.GetOptions{})
		return err == nil, fmt.Sprint(err)
	})
	h.stopAgent()
	h.node = "hollow-own-subnet"
	a, err := New(Config{NodeName: h.node, Client: h.client, Runtime: h.rt, Probes: h.rt.Prober(), Clock: h.fc,
		NodeIP: "127.0.0.1", Subnet: "10.99.0.0/16", PodCIDR: "10.99.0.0/16", Network: "own", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.stop, h.done = cancel, make(chan error, 1)
	go func() { h.done <- a.Run(ctx) }()
	n := h.waitNode(func(n *corev1.Node) bool { return nodeReady(n) })
	if n.Spec.PodCIDR != "10.99.0.0/16" || len(n.Spec.PodCIDRs) != 1 || n.Spec.PodCIDRs[0] != "10.99.0.0/16" {
		t.Errorf("podCIDR = %q %v, want the node's subnet 10.99.0.0/16", n.Spec.PodCIDR, n.Spec.PodCIDRs)
	}
	h.create(hollowPod("on-own", hollowContainer("c")))
	p := h.waitPod("on-own", "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	if !strings.HasPrefix(p.Status.PodIP, "10.99.") {
		t.Errorf("pod IP %s is not from the node's podCIDR 10.99.0.0/16", p.Status.PodIP)
	}
}
