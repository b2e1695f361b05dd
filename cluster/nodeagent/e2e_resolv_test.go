package nodeagent_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// A pod's /etc/resolv.conf names its own nameservers, as a CRI runtime writes it from the
// kubelet's DNS config, not Docker's embedded resolver (127.0.0.11), which the engine puts in
// the file of every container on a user-defined network: ClusterFirst has the cluster DNS,
// the cluster's search paths then the node's, ndots:5; None has dnsConfig's alone. The
// conformance spec "should support configurable pod DNS nameservers" reads them.
func TestE2EResolvConf(t *testing.T) {
	t.Parallel()
	e := startE2E(t, e2eOptions{clusterDNS: "10.96.0.10"})
	cluster := testPod("cluster", shellCmd("sh", "cat /etc/resolv.conf; exec sleep 3600"))
	e.create(cluster)
	two := "2"
	none := testPod("none", shellCmd("sh", "cat /etc/resolv.conf; exec sleep 3600"))
	none.Spec.DNSPolicy = corev1.DNSNone
	none.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1"}, Searches: []string{"resolv.conf.local"},
		Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &two}, {Name: "edns0"}}}
	e.create(none)
	e.waitRunning("cluster")
	e.waitRunning("none")
	var hostSearch []string
	if b, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) > 1 && (f[0] == "search" || f[0] == "domain") {
				hostSearch = f[1:]
			}
		}
	}
	want := map[string]string{
		"cluster": "search " + strings.Join(append([]string{"default.svc.cluster.local", "svc.cluster.local", "cluster.local"}, hostSearch...), " ") +
			"\nnameserver 10.96.0.10\noptions ndots:5\n",
		"none": "search resolv.conf.local\nnameserver 1.1.1.1\noptions ndots:2 edns0\n",
	}
	for pod, w := range want {
		e.poll(15*time.Second, pod+"'s /etc/resolv.conf", func() (bool, string) {
			out, err := e.kubectl("logs", pod)
			return out == w, fmt.Sprintf("%q, want %q", out, w) + errString(err)
		})
	}
}
