package nodeagent

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover-ci/drover/cluster/container"
)

// clusterDomain is the DNS suffix of services.
const clusterDomain = "cluster.local"

// infraSpec is the pod's infra ("pause") container: it owns the network namespace on the
// node's bridge network and publishes the pod's hostPorts.
func (a *Agent) infraSpec(pod *corev1.Pod) container.Spec {
	spec := container.Spec{
		Name:        dockerName(pod, infraName, 0),
		Image:       a.cfg.PauseImage,
		Labels:      a.containerLabels(pod, infraName, 0, ""),
		Hostname:    hostnameOf(pod),
		NetworkMode: a.cfg.Network,
		DNSSearch:   []string{pod.Namespace + ".svc." + clusterDomain, "svc." + clusterDomain, clusterDomain},
		DNSOptions:  []string{"ndots:5"},
	}
	a.setDNS(&spec, pod)
	for _, ha := range pod.Spec.HostAliases {
		for _, h := range ha.Hostnames {
			spec.ExtraHosts = append(spec.ExtraHosts, h+":"+ha.IP)
		}
	}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			spec.PortBindings = append(spec.PortBindings, container.PortBinding{
				ContainerPort: int(p.ContainerPort), Protocol: strings.ToLower(string(p.Protocol)),
				HostIP: p.HostIP, HostPort: int(p.HostPort)})
		}
	}
	return spec
}

// setDNS applies the pod's DNS policy and config: the cluster's nameserver for ClusterFirst,
// the host's search paths for Default, and dnsConfig's additions.
func (a *Agent) setDNS(spec *container.Spec, pod *corev1.Pod) {
	if a.cfg.ClusterDNS != "" && (pod.Spec.DNSPolicy == "" || pod.Spec.DNSPolicy == corev1.DNSClusterFirst) {
		spec.DNS = []string{a.cfg.ClusterDNS}
	}
	if pod.Spec.DNSPolicy == corev1.DNSDefault {
		spec.DNSSearch, spec.DNSOptions = nil, nil
	}
	dc := pod.Spec.DNSConfig
	if dc == nil {
		return
	}
	spec.DNS = append(spec.DNS, dc.Nameservers...)
	spec.DNSSearch = append(spec.DNSSearch, dc.Searches...)
	for _, o := range dc.Options {
		if o.Value != nil {
			spec.DNSOptions = append(spec.DNSOptions, o.Name+":"+*o.Value)
		} else {
			spec.DNSOptions = append(spec.DNSOptions, o.Name)
		}
	}
}

func hostnameOf(pod *corev1.Pod) string {
	h := pod.Name
	if pod.Spec.Hostname != "" {
		h = pod.Spec.Hostname
	}
	if len(h) > 63 {
		h = h[:63]
	}
	return strings.TrimRight(h, "-.")
}

// appSpec is attempt n of an app (or init) container, joining the infra container's
// namespaces.
func (w *podWorker) appSpec(c *corev1.Container, attempt int, env []envVar, mounts []container.Mount) container.Spec {
	pod, lookup := w.pod, mappingOf(env)
	spec := container.Spec{
		Name:        dockerName(pod, c.Name, attempt),
		Image:       c.Image,
		Labels:      w.a.containerLabels(pod, c.Name, attempt, containerHash(c)),
		NetworkMode: "container:" + w.infra.ID,
		WorkingDir:  c.WorkingDir,
		Mounts:      mounts,
	}
	// Kubernetes' command is Docker's entrypoint; args are its cmd.
	if len(c.Command) > 0 {
		spec.Entrypoint = expandAll(c.Command, lookup)
		spec.Cmd = []string{}
	}
	if len(c.Args) > 0 {
		spec.Cmd = expandAll(c.Args, lookup)
	}
	for _, e := range env {
		spec.Env = append(spec.Env, e.name+"="+e.value)
	}
	setResources(&spec, c)
	spec.PidsLimit = max(0, w.a.cfg.PidsLimit)
	setSecurity(&spec, effectiveSecurity(pod, c))
	return spec
}

// setResources applies c's memory and CPU limits and CPU request.
func setResources(spec *container.Spec, c *corev1.Container) {
	if m := c.Resources.Limits.Memory(); !m.IsZero() {
		spec.MemoryLimit = m.Value()
	}
	if cpu := c.Resources.Limits.Cpu(); !cpu.IsZero() {
		spec.NanoCPUs = cpu.MilliValue() * 1_000_000
	}
	if req := c.Resources.Requests.Cpu(); !req.IsZero() {
		spec.CPUShares = max(2, req.MilliValue()*1024/1000)
	}
}

// setSecurity applies a security context: privileged, and runAsUser[:runAsGroup].
func setSecurity(spec *container.Spec, sc *corev1.SecurityContext) {
	if sc.Privileged != nil {
		spec.Privileged = *sc.Privileged
	}
	if sc.RunAsUser != nil {
		spec.User = strconv.FormatInt(*sc.RunAsUser, 10)
		if sc.RunAsGroup != nil {
			spec.User += ":" + strconv.FormatInt(*sc.RunAsGroup, 10)
		}
	}
}

// effectiveSecurity merges the pod's and the container's security context (container wins).
func effectiveSecurity(pod *corev1.Pod, c *corev1.Container) *corev1.SecurityContext {
	out := &corev1.SecurityContext{}
	if psc := pod.Spec.SecurityContext; psc != nil {
		out.RunAsUser, out.RunAsGroup = psc.RunAsUser, psc.RunAsGroup
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			out.RunAsUser = sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			out.RunAsGroup = sc.RunAsGroup
		}
		out.Privileged = sc.Privileged
	}
	return out
}

func expandAll(in []string, lookup func(string) (string, bool)) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = expand(s, lookup)
	}
	return out
}

// containerHash identifies a container's spec: when it changes (the pod's image is updated),
// the running container is replaced.
func containerHash(c *corev1.Container) string {
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
