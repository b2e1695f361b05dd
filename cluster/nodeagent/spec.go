package nodeagent

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/component-helpers/node/util/sysctl"

	"github.com/drover-ci/drover/cluster/container"
)

// clusterDomain is the DNS suffix of services.
const clusterDomain = "cluster.local"

// infraSpec is the pod's infra ("pause") container: it owns the network namespace on the
// node's bridge network and publishes the pod's hostPorts. A hostNetwork pod's infra container
// is in the host's network namespace: it has the node's hostname and addresses, and its ports
// are the host's own (nothing to publish), as the kubelet's sandbox with hostNetwork.
func (a *Agent) infraSpec(pod *corev1.Pod) container.Spec {
	spec := container.Spec{
		Name:        dockerName(pod, infraName, 0),
		Image:       a.cfg.PauseImage,
		Labels:      a.containerLabels(pod, infraName, 0, ""),
		Hostname:    hostnameOf(pod),
		NetworkMode: a.cfg.Network,
	}
	if pod.Spec.HostNetwork {
		spec.Hostname, spec.NetworkMode = "", hostNetworkMode
		spec.Labels[LabelHostNetwork] = "true"
	}
	a.setDNS(&spec, pod)
	for _, ha := range pod.Spec.HostAliases {
		for _, h := range ha.Hostnames {
			spec.ExtraHosts = append(spec.ExtraHosts, h+":"+ha.IP)
		}
	}
	if pod.Spec.HostNetwork {
		return spec
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

// hostNetworkMode is the runtime's network mode of a hostNetwork pod's infra container.
const hostNetworkMode = "host"

// setDNS applies the pod's DNS policy and config as the kubelet's getPodDNSType does: the
// cluster's nameserver and search paths for ClusterFirst (on the host network only with
// ClusterFirstWithHostNet: ClusterFirst falls back to Default there), the host's resolver for
// Default, nothing but dnsConfig for None; then dnsConfig's additions.
func (a *Agent) setDNS(spec *container.Spec, pod *corev1.Pod) {
	switch pod.Spec.DNSPolicy {
	case corev1.DNSClusterFirstWithHostNet:
		a.clusterDNS(spec, pod)
	case "", corev1.DNSClusterFirst:
		if !pod.Spec.HostNetwork {
			a.clusterDNS(spec, pod)
		}
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

// clusterDNS sets the cluster's nameserver (when the node has one), search paths and ndots.
func (a *Agent) clusterDNS(spec *container.Spec, pod *corev1.Pod) {
	if a.cfg.ClusterDNS != "" {
		spec.DNS = []string{a.cfg.ClusterDNS}
	}
	spec.DNSSearch = []string{pod.Namespace + ".svc." + clusterDomain, "svc." + clusterDomain, clusterDomain}
	spec.DNSOptions = []string{"ndots:5"}
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
		Stdin:       c.Stdin,
		StdinOnce:   c.StdinOnce,
		TTY:         c.TTY,
	}
	if w.handler != nil {
		spec.RuntimeHandler = *w.handler // the sandbox's runtime runs every container of the pod
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
	setPodSecurity(&spec, pod)
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

// setSecurity applies a security context as the kubelet's dockershim did: privileged,
// runAsUser[:runAsGroup], capabilities, a read-only root file system, no_new_privs for
// allowPrivilegeEscalation: false, and an Unconfined seccomp profile (RuntimeDefault is the
// engine's default profile).
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
	if c := sc.Capabilities; c != nil {
		for _, x := range c.Add {
			spec.CapAdd = append(spec.CapAdd, string(x))
		}
		for _, x := range c.Drop {
			spec.CapDrop = append(spec.CapDrop, string(x))
		}
	}
	spec.ReadonlyRootfs = sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem
	spec.NoNewPrivileges = sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation
	spec.SeccompUnconfined = sc.SeccompProfile != nil && sc.SeccompProfile.Type == corev1.SeccompProfileTypeUnconfined
}

// setPodSecurity applies the pod-level settings every container shares: fsGroup and
// supplementalGroups as supplementary groups (fsGroup first, as the kubelet orders them), and
// sysctls (names with slashes as dots; only admitted ones reach here, see admit.go).
func setPodSecurity(spec *container.Spec, pod *corev1.Pod) {
	psc := pod.Spec.SecurityContext
	if psc == nil {
		return
	}
	if psc.FSGroup != nil {
		spec.GroupAdd = append(spec.GroupAdd, strconv.FormatInt(*psc.FSGroup, 10))
	}
	for _, g := range psc.SupplementalGroups {
		spec.GroupAdd = append(spec.GroupAdd, strconv.FormatInt(g, 10))
	}
	if len(psc.Sysctls) > 0 {
		spec.Sysctls = make(map[string]string, len(psc.Sysctls))
		for _, s := range psc.Sysctls {
			spec.Sysctls[sysctl.NormalizeName(s.Name)] = s.Value
		}
	}
}

// effectiveSecurity merges the pod's and the container's security context as Kubernetes'
// DetermineEffectiveSecurityContext does: the pod's runAsUser, runAsGroup, runAsNonRoot and
// seccompProfile are defaults the container's own settings override.
func effectiveSecurity(pod *corev1.Pod, c *corev1.Container) *corev1.SecurityContext {
	out := &corev1.SecurityContext{}
	if psc := pod.Spec.SecurityContext; psc != nil {
		out.RunAsUser, out.RunAsGroup, out.RunAsNonRoot = psc.RunAsUser, psc.RunAsGroup, psc.RunAsNonRoot
		out.SeccompProfile = psc.SeccompProfile
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			out.RunAsUser = sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			out.RunAsGroup = sc.RunAsGroup
		}
		if sc.RunAsNonRoot != nil {
			out.RunAsNonRoot = sc.RunAsNonRoot
		}
		if sc.SeccompProfile != nil {
			out.SeccompProfile = sc.SeccompProfile
		}
		out.Privileged = sc.Privileged
		out.Capabilities = sc.Capabilities
		out.ReadOnlyRootFilesystem = sc.ReadOnlyRootFilesystem
		out.AllowPrivilegeEscalation = sc.AllowPrivilegeEscalation
		out.ProcMount = sc.ProcMount
	}
	return out
}

// verifyRunAsNonRoot is the kubelet's check before a container with runAsNonRoot starts:
// imageUser is the image's configured user ("" is root).
func verifyRunAsNonRoot(pod *corev1.Pod, c *corev1.Container, imageUser string) error {
	sc := effectiveSecurity(pod, c)
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		return nil
	}
	desc := fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
	if sc.RunAsUser != nil {
		if *sc.RunAsUser == 0 {
			return fmt.Errorf("container's runAsUser breaks non-root policy (pod: %q, container: %s)", desc, c.Name)
		}
		return nil
	}
	user, _, _ := strings.Cut(imageUser, ":")
	if user == "" {
		user = "0"
	}
	uid, err := strconv.ParseInt(user, 10, 64)
	switch {
	case err != nil:
		return fmt.Errorf("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root (pod: %q, container: %s)", user, desc, c.Name)
	case uid == 0:
		return fmt.Errorf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", desc, c.Name)
	}
	return nil
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
