package nodeagent

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/drover-ci/drover/cluster/container"
	"github.com/drover-ci/drover/cluster/container/hollow"
)

var unitEpoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// unitAgent is an Agent that is never Run: enough for its pure parts.
func unitAgent(t *testing.T, mod func(*Config)) (*Agent, *clocktesting.FakeClock) {
	t.Helper()
	fc := clocktesting.NewFakeClock(unitEpoch)
	cfg := Config{NodeName: "node-a", Client: fake.NewSimpleClientset(), Runtime: hollow.New(hollow.Options{Clock: fc}),
		Clock: fc, PauseImage: "drover/pause:1", ClusterDNS: "10.96.0.10"}
	if mod != nil {
		mod(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a.hostIP = "192.168.1.2"
	a.probes = newProbeManager(a.cfg.Probes, fc, record.NewFakeRecorder(100), func(types.UID) {})
	return a, fc
}

// with sets up w as a sync of pod would have: its containers as view and what the sync
// learnt as res.
func (w *podWorker) with(pod *corev1.Pod, view *podView, res *syncResult) *podWorker {
	w.pod, w.view, w.res = pod, view, res
	return w
}

// specWorker is the worker of pod on a, its infra container infraID.
func specWorker(a *Agent, pod *corev1.Pod, infraID string) *podWorker {
	w := a.podWorker(pod.UID)
	w.pod, w.infra = pod, &container.Container{ID: infraID}
	return w
}

func specPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "jenkins-1", Namespace: "ci", UID: "0123456789abcdef"},
		Spec: corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{
			{Name: "master", Image: "jenkins", Ports: []corev1.ContainerPort{
				{ContainerPort: 8080, HostPort: 18080, Protocol: corev1.ProtocolTCP},
				{ContainerPort: 50000, Protocol: corev1.ProtocolTCP}}},
			{Name: "dns", Image: "dns", Ports: []corev1.ContainerPort{
				{ContainerPort: 53, HostPort: 1053, HostIP: "127.0.0.1", Protocol: corev1.ProtocolUDP}}},
		}}}
}

func TestInfraSpec(t *testing.T) {
	a, _ := unitAgent(t, nil)
	got := a.infraSpec(specPod())
	want := container.Spec{
		Name:  "drover_POD_jenkins-1_ci_01234567_0",
		Image: "drover/pause:1",
		Labels: map[string]string{LabelManaged: "true", LabelNode: "node-a", LabelPodUID: "0123456789abcdef",
			LabelPodNS: "ci", LabelPodName: "jenkins-1", LabelContainer: "POD", LabelAttempt: "0", LabelHash: ""},
		Hostname: "jenkins-1", NetworkMode: "drover",
		DNS:        []string{"10.96.0.10"},
		DNSSearch:  []string{"ci.svc.cluster.local", "svc.cluster.local", "cluster.local"},
		DNSOptions: []string{"ndots:5"},
		PortBindings: []container.PortBinding{
			{ContainerPort: 8080, Protocol: "tcp", HostPort: 18080},
			{ContainerPort: 53, Protocol: "udp", HostIP: "127.0.0.1", HostPort: 1053}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("infraSpec (-want +got):\n%s", d)
	}
}

func TestInfraSpecDNSPolicies(t *testing.T) {
	a, _ := unitAgent(t, nil)
	pod := specPod()
	pod.Spec.DNSPolicy = corev1.DNSDefault
	if s := a.infraSpec(pod); s.DNS != nil || s.DNSSearch != nil || s.DNSOptions != nil {
		t.Errorf("dnsPolicy Default: DNS %v search %v options %v, want the host's (none set)", s.DNS, s.DNSSearch, s.DNSOptions)
	}
	two := "2"
	pod = specPod()
	pod.Spec.Hostname = "master"
	pod.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1"}, Searches: []string{"corp.example"},
		Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &two}, {Name: "edns0"}}}
	pod.Spec.HostAliases = []corev1.HostAlias{{IP: "10.1.1.1", Hostnames: []string{"a.local", "b.local"}}}
	s := a.infraSpec(pod)
	if d := cmp.Diff([]string{"10.96.0.10", "1.1.1.1"}, s.DNS); d != "" {
		t.Errorf("DNS: %s", d)
	}
	if d := cmp.Diff([]string{"ci.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"}, s.DNSSearch); d != "" {
		t.Errorf("DNSSearch: %s", d)
	}
	if d := cmp.Diff([]string{"ndots:5", "ndots:2", "edns0"}, s.DNSOptions); d != "" {
		t.Errorf("DNSOptions: %s", d)
	}
	if d := cmp.Diff([]string{"a.local:10.1.1.1", "b.local:10.1.1.1"}, s.ExtraHosts); d != "" {
		t.Errorf("ExtraHosts: %s", d)
	}
	if s.Hostname != "master" {
		t.Errorf("Hostname = %q, want spec.hostname", s.Hostname)
	}
	b, _ := unitAgent(t, func(c *Config) { c.ClusterDNS = "" })
	if s := b.infraSpec(specPod()); s.DNS != nil || len(s.DNSSearch) != 3 {
		t.Errorf("no cluster DNS: DNS %v (want Docker's), search %v (want the cluster's)", s.DNS, s.DNSSearch)
	}
}

func TestAppSpec(t *testing.T) {
	a, _ := unitAgent(t, nil)
	pod := specPod()
	uid, gid, pgid := int64(1000), int64(2000), int64(3000)
	priv := true
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: &uid, RunAsGroup: &pgid}
	c := &corev1.Container{Name: "master", Image: "jenkins:2", WorkingDir: "/var/jenkins_home",
		Command: []string{"/bin/sh", "-c", "echo $(GREETING) $$(GREETING) $(MISSING)"},
		Args:    []string{"--port=$(PORT)"},
		Resources: corev1.ResourceRequirements{
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi"), corev1.ResourceCPU: resource.MustParse("1500m")},
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}},
		SecurityContext: &corev1.SecurityContext{Privileged: &priv, RunAsGroup: &gid}}
	env := []envVar{{"GREETING", "hello"}, {"PORT", "8080"}}
	mounts := []container.Mount{{Type: "bind", Source: "/data/x", Target: "/var/jenkins_home"}}
	got := specWorker(a, pod, "infra123").appSpec(c, 3, env, mounts)
	want := container.Spec{
		Name:  "drover_master_jenkins-1_ci_01234567_3",
		Image: "jenkins:2",
		Labels: map[string]string{LabelManaged: "true", LabelNode: "node-a", LabelPodUID: "0123456789abcdef",
			LabelPodNS: "ci", LabelPodName: "jenkins-1", LabelContainer: "master", LabelAttempt: "3", LabelHash: containerHash(c)},
		NetworkMode: "container:infra123", WorkingDir: "/var/jenkins_home", Mounts: mounts,
		Entrypoint:  []string{"/bin/sh", "-c", "echo hello $(GREETING) $(MISSING)"},
		Cmd:         []string{"--port=8080"},
		Env:         []string{"GREETING=hello", "PORT=8080"},
		MemoryLimit: 256 << 20, NanoCPUs: 1_500_000_000, CPUShares: 256, PidsLimit: DefaultPidsLimit,
		Privileged: true, User: "1000:2000",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("appSpec (-want +got):\n%s", d)
	}
}

func TestAppSpecCommandOnly(t *testing.T) {
	a, _ := unitAgent(t, nil)
	c := &corev1.Container{Name: "c", Image: "busybox", Command: []string{"sleep", "3600"}}
	s := specWorker(a, specPod(), "i").appSpec(c, 0, nil, nil)
	// command replaces the entrypoint and drops the image's cmd.
	if d := cmp.Diff([]string{"sleep", "3600"}, s.Entrypoint); d != "" || s.Cmd == nil || len(s.Cmd) != 0 {
		t.Errorf("command only: entrypoint %v cmd %#v, want [sleep 3600] and an empty (non-nil) cmd", s.Entrypoint, s.Cmd)
	}
	c = &corev1.Container{Name: "c", Image: "busybox", Args: []string{"-v"}}
	s = specWorker(a, specPod(), "i").appSpec(c, 0, nil, nil)
	if s.Entrypoint != nil || len(s.Cmd) != 1 {
		t.Errorf("args only: entrypoint %v cmd %v, want the image's entrypoint and [-v]", s.Entrypoint, s.Cmd)
	}
	if s.MemoryLimit != 0 || s.NanoCPUs != 0 || s.CPUShares != 0 || s.Privileged || s.User != "" {
		t.Errorf("no resources or security context: %+v", s)
	}
	// A changed image changes the hash label (the running container is then replaced).
	c2 := c.DeepCopy()
	c2.Image = "busybox:2"
	if containerHash(c) == containerHash(c2) {
		t.Error("hash does not change with the image")
	}
}

// A hostNetwork pod's infra container is in the host's network (no hostname of its own, no
// ports to publish), marked so that its IP is the node's; ClusterFirst falls back to the
// host's resolver there, ClusterFirstWithHostNet keeps the cluster's, None keeps only
// dnsConfig (the kubelet's getPodDNSType).
func TestInfraSpecHostNetwork(t *testing.T) {
	a, _ := unitAgent(t, nil)
	pod := specPod()
	pod.Spec.HostNetwork = true
	s := a.infraSpec(pod)
	if s.NetworkMode != "host" || s.Hostname != "" || s.PortBindings != nil || s.Labels[LabelHostNetwork] != "true" {
		t.Errorf("hostNetwork infra: network %q hostname %q ports %v label %q; want host, none, none, true",
			s.NetworkMode, s.Hostname, s.PortBindings, s.Labels[LabelHostNetwork])
	}
	if s.DNS != nil || s.DNSSearch != nil || s.DNSOptions != nil {
		t.Errorf("hostNetwork + ClusterFirst: DNS %v search %v options %v, want the host's", s.DNS, s.DNSSearch, s.DNSOptions)
	}
	pod.Spec.DNSPolicy = corev1.DNSClusterFirstWithHostNet
	if s := a.infraSpec(pod); len(s.DNS) != 1 || s.DNS[0] != "10.96.0.10" || len(s.DNSSearch) != 3 {
		t.Errorf("ClusterFirstWithHostNet: DNS %v search %v, want the cluster's", s.DNS, s.DNSSearch)
	}
	pod = specPod()
	pod.Spec.DNSPolicy = corev1.DNSClusterFirstWithHostNet
	if s := a.infraSpec(pod); len(s.DNS) != 1 || len(s.DNSSearch) != 3 || s.NetworkMode != "drover" {
		t.Errorf("ClusterFirstWithHostNet off the host network: DNS %v search %v network %q, want the cluster's DNS on the pod network", s.DNS, s.DNSSearch, s.NetworkMode)
	}
	pod.Spec.DNSPolicy = corev1.DNSNone
	pod.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1"}, Searches: []string{"corp.example"}}
	s = a.infraSpec(pod)
	if d := cmp.Diff([]string{"1.1.1.1"}, s.DNS); d != "" {
		t.Errorf("None: DNS %s", d)
	}
	if d := cmp.Diff([]string{"corp.example"}, s.DNSSearch); d != "" {
		t.Errorf("None: search %s", d)
	}
	if s.DNSOptions != nil {
		t.Errorf("None: options %v, want only dnsConfig's", s.DNSOptions)
	}
	infra := container.Container{ID: "i1", State: container.StateRunning,
		Labels: map[string]string{LabelContainer: infraName, LabelHostNetwork: "true"}}
	if v := newPodView([]container.Container{infra}).withHostIP("192.168.1.2"); v.infra.IP != "192.168.1.2" {
		t.Errorf("hostNetwork infra IP %q, want the node's", v.infra.IP)
	}
	infra.Labels = map[string]string{LabelContainer: infraName}
	if v := newPodView([]container.Container{infra}).withHostIP("192.168.1.2"); v.infra.IP != "" {
		t.Errorf("bridge infra without an address got %q", v.infra.IP)
	}
}
