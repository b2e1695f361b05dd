package nodeagent

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestHollowPodRunning(t *testing.T) {
	h := startHollow(t)
	pod := h.create(hollowPod("web", hollowContainer("server"), hollowContainer("sidecar")))
	p := h.waitPod("web", "Running and Ready", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && isReady(p)
	})
	ip, err := netip.ParseAddr(p.Status.PodIP)
	if err != nil || !netip.MustParsePrefix("10.88.0.0/16").Contains(ip) {
		t.Errorf("pod IP %q, want an address of the pod network 10.88.0.0/16", p.Status.PodIP)
	}
	if p.Status.HostIP != "127.0.0.1" || p.Status.StartTime == nil {
		t.Errorf("hostIP %q startTime %v", p.Status.HostIP, p.Status.StartTime)
	}
	for _, name := range []string{"server", "sidecar"} {
		cs := statusOf(p, name)
		if cs.State.Running == nil || !cs.Ready || cs.RestartCount != 0 || cs.ContainerID == "" {
			t.Errorf("container %s: %+v", name, cs)
		}
	}
	// One infra container and the two app containers, all running.
	cs := h.containers(string(pod.UID))
	if len(cs) != 3 {
		t.Fatalf("runtime has %d containers of the pod, want 3: %+v", len(cs), cs)
	}
	for _, c := range cs {
		if c.Labels[LabelNode] != h.node || c.Labels[LabelPodName] != "web" {
			t.Errorf("container %s labels %v", c.Name, c.Labels)
		}
	}
	h.waitEvents("web", "Created", "Started")
}

// TestHollowPodWithEmptyDir: a hollow node runs a pod that mounts an emptyDir (it failed with
// CreateContainerConfigError "cannot find volume" before: no volume manager, no mount source).
func TestHollowPodWithEmptyDir(t *testing.T) {
	h := startHollow(t)
	pod := hollowPod("scratch", hollowContainer("server"))
	pod.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "scratch", MountPath: "/scratch"}}
	h.create(pod)
	h.waitPod("scratch", "Running and Ready", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && isReady(p)
	})
}

func TestHollowNodeAndLease(t *testing.T) {
	h := startHollow(t)
	n := h.waitNode(nodeReady)
	want := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi"),
		corev1.ResourcePods: resource.MustParse("110")}
	for name, q := range want {
		if got := n.Status.Capacity[name]; got.Cmp(q) != 0 {
			t.Errorf("capacity %s = %s, want %s", name, got.String(), q.String())
		}
		if got := n.Status.Allocatable[name]; got.Cmp(q) != 0 {
			t.Errorf("allocatable %s = %s, want %s", name, got.String(), q.String())
		}
	}
	if n.Status.NodeInfo.ContainerRuntimeVersion != "hollow://20.10.24-hollow" || n.Labels["kubernetes.io/hostname"] != h.node {
		t.Errorf("nodeInfo %+v labels %v", n.Status.NodeInfo, n.Labels)
	}
	leases := h.client.CoordinationV1().Leases("kube-node-lease")
	var first time.Time
	h.poll(20*time.Second, "lease created", func() (bool, string) {
		l, err := leases.Get(context.Background(), h.node, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != h.node || *l.Spec.LeaseDurationSeconds != 40 || l.Spec.RenewTime == nil {
			return false, "incomplete lease"
		}
		if len(l.OwnerReferences) != 1 || l.OwnerReferences[0].Kind != "Node" || l.OwnerReferences[0].UID != n.UID {
			t.Errorf("lease owner %+v, want the Node %s", l.OwnerReferences, n.UID)
		}
		first = l.Spec.RenewTime.Time
		return true, ""
	})
	// Renewed every 10 s (of the fake clock).
	h.poll(20*time.Second, "lease renewed", func() (bool, string) {
		l, err := leases.Get(context.Background(), h.node, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		d := l.Spec.RenewTime.Sub(first)
		if d > 0 && (d < 9*time.Second || d > 30*time.Second) {
			t.Errorf("lease renewed %s after the previous renewal, want about 10s", d)
		}
		return d > 0, l.Spec.RenewTime.String()
	})
}

// TestHollowPodMountsVolumes: a hollow node mounts nothing, but a pod whose containers mount
// an emptyDir and a claim (a StatefulSet's pods do) runs and says nothing about volumes it
// simulates.
func TestHollowPodMountsVolumes(t *testing.T) {
	h := startHollow(t)
	c := hollowContainer("server")
	c.VolumeMounts = []corev1.VolumeMount{{Name: "scratch", MountPath: "/scratch"}, {Name: "data", MountPath: "/data"}}
	pod := hollowPod("web-0", c)
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-web-0"}}},
	}
	h.create(pod)
	h.waitPod("web-0", "Running and Ready", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && isReady(p)
	})
	for _, e := range h.events("web-0") {
		if strings.HasPrefix(e, "FailedMount") {
			t.Errorf("events %v: a FailedMount for volumes a hollow node simulates", h.events("web-0"))
		}
	}
}

// TestUnsafeSysctlRejected: as the kubelet's sysctl admission, a pod asking for a sysctl
// outside the safe set is Failed with SysctlForbidden and a Warning event, and no container
// of it is made; a pod with safe sysctls (one written with slashes) runs.
func TestUnsafeSysctlRejected(t *testing.T) {
	h := startHollow(t)
	bad := hollowPod("unsafe", hollowContainer("c"))
	bad.Spec.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{
		{Name: "kernel.shm_rmid_forced", Value: "1"}, {Name: "kernel.shmmax", Value: "100000000"}}}
	pod := h.create(bad)
	p := h.waitPod("unsafe", "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if want := `Pod was rejected: forbidden sysctl: "kernel.shmmax" not allowlisted`; p.Status.Reason != "SysctlForbidden" || p.Status.Message != want {
		t.Errorf("status reason %q message %q; want SysctlForbidden, %q", p.Status.Reason, p.Status.Message, want)
	}
	h.waitEvents("unsafe", "SysctlForbidden")
	if cs := h.containers(string(pod.UID)); len(cs) != 0 {
		t.Errorf("the refused pod has %d containers", len(cs))
	}
	good := hollowPod("safe", hollowContainer("c"))
	good.Spec.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{
		{Name: "kernel.shm_rmid_forced", Value: "1"}, {Name: "net/ipv4/ip_local_port_range", Value: "1024 65000"}}}
	h.create(good)
	h.waitPod("safe", "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
}

// TestHostPortConflictRejected: as the kubelet's NodePorts admission, a pod bound to the node
// whose host port a pod admitted before it holds (same port and protocol, the same or a
// wildcard IP) is Failed with reason NodePorts and a Warning event, and none of its containers
// is made; the same port on another protocol or host IP runs, and once the holder is gone a new
// pod with the port runs (the conformance spec "Should recreate evicted statefulset").
func TestHostPortConflictRejected(t *testing.T) {
	h := startHollow(t)
	withPort := func(name, ip string, proto corev1.Protocol) *corev1.Pod {
		c := hollowContainer("c")
		c.Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 21017, HostIP: ip, Protocol: proto}}
		return hollowPod(name, c)
	}
	h.create(withPort("holder", "", corev1.ProtocolTCP))
	h.waitPod("holder", "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	bad := h.create(withPort("clash", "127.0.0.1", corev1.ProtocolTCP))
	p := h.waitPod("clash", "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	want := "Pod was rejected: Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports"
	if p.Status.Reason != "NodePorts" || p.Status.Message != want {
		t.Errorf("status reason %q message %q; want NodePorts, %q", p.Status.Reason, p.Status.Message, want)
	}
	h.waitEvents("clash", "NodePorts")
	if cs := h.containers(string(bad.UID)); len(cs) != 0 {
		t.Errorf("the refused pod has %d containers", len(cs))
	}
	h.create(withPort("udp", "", corev1.ProtocolUDP))
	h.waitPod("udp", "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	zero := int64(0)
	if err := h.client.CoreV1().Pods("default").Delete(context.Background(), "holder", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	h.poll(30*time.Second, "holder gone", func() (bool, string) {
		_, err := h.get("holder")
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	h.create(withPort("after", "", corev1.ProtocolTCP))
	h.waitPod("after", "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
}
