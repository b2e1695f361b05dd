package nodeagent_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"
)

// A hostNetwork pod runs in the node's network namespace, as the kubelet's sandbox does: its
// IP is the node's, a server in it answers on the node's loopback, its hostname is the node's,
// and its /etc/hosts is the node's hosts file under the kubelet's host-network header (which
// the conformance test "should test kubelet managed /etc/hosts file" tells from a managed one).
// Before, hostNetwork was ignored: the pod got an address on the bridge network.
func TestE2EHostNetwork(t *testing.T) {
	t.Parallel()
	e := startE2E(t, e2eOptions{})
	port := freePort(t)
	pod := testPod("hostnet", serverContainer("web", port),
		shellCmd("sh", "cat /etc/hosts; echo HOSTNAME=$(cat /proc/sys/kernel/hostname); exec sleep 3600"))
	pod.Spec.HostNetwork = true
	e.create(pod)
	p := e.waitRunning("hostnet")
	if p.Status.PodIP != "127.0.0.1" || p.Status.HostIP != "127.0.0.1" || len(p.Status.PodIPs) != 1 || p.Status.PodIPs[0].IP != "127.0.0.1" {
		t.Errorf("podIP %q podIPs %v hostIP %q, want the node's address 127.0.0.1 for all", p.Status.PodIP, p.Status.PodIPs, p.Status.HostIP)
	}
	e.poll(15*time.Second, "the pod's server on the node's loopback", func() (bool, string) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK, resp.Status + " " + string(b)
	})
	node, err := os.ReadFile("/etc/hosts")
	if err != nil {
		t.Fatal(err)
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	want := "# Kubernetes-managed hosts file (host network).\n" + string(node) + "HOSTNAME=" + host + "\n"
	e.poll(15*time.Second, "the hostNetwork pod's /etc/hosts and hostname", func() (bool, string) {
		out, err := e.kubectl("logs", "hostnet", "-c", "sh")
		return out == want, fmt.Sprintf("%q, want %q", out, want) + errString(err)
	})
}
